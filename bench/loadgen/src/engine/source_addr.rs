//! Client source addresses spread over 127.0.0.2, 127.0.0.3, …: each
//! address has its own ~28,000 ephemeral ports, so many connections (and
//! the TIME_WAIT of many short ones) never run out of ports. Linux routes
//! all of 127.0.0.0/8 to the loopback interface without configuration.

use std::net::Ipv4Addr;

/// The first host number used (127.0.0.1 is left to the servers).
const FIRST_HOST: u8 = 2;
/// The last host number used.
const LAST_HOST: u8 = 254;

/// Round-robin over loopback source addresses.
#[derive(Debug)]
pub struct SourceAddresses {
    next: u8,
}

impl Default for SourceAddresses {
    fn default() -> Self {
        SourceAddresses { next: FIRST_HOST }
    }
}

impl SourceAddresses {
    /// The address for the next connection.
    pub fn next_addr(&mut self) -> Ipv4Addr {
        let host = self.next;
        self.next = if host >= LAST_HOST {
            FIRST_HOST
        } else {
            host + 1
        };
        Ipv4Addr::new(127, 0, 0, host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_around_after_the_last_host() {
        let mut sources = SourceAddresses::default();
        assert_eq!(sources.next_addr(), Ipv4Addr::new(127, 0, 0, 2));
        for _ in 3..=254 {
            sources.next_addr();
        }
        assert_eq!(sources.next_addr(), Ipv4Addr::new(127, 0, 0, 2));
    }
}
