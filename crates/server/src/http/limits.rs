//! How many connections a server holds at once, overall and per client IP.
//!
//! An IPv6 client counts by its /64 network: one subscriber line or host
//! usually gets a whole /64, so counting single addresses would let one
//! client open the limit's worth of connections from each of 2^64.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use http::StatusCode;

/// The open connections of one server, counted against its limits.
#[derive(Debug)]
pub(crate) struct ConnectionLimits {
    max_total: Option<usize>,
    max_per_ip: Option<usize>,
    total: AtomicUsize,
    /// Open connections per client (see [`client_of`]); only kept with a
    /// per-IP limit.
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    log: RefusalLog,
}

/// Why a connection was refused, and the status its requests get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The server holds its maximum of connections: `503`.
    ServerFull,
    /// This client address holds its maximum: `429`.
    TooManyFromAddress,
}

impl Refusal {
    /// The status every request on a refused connection is answered with.
    pub(crate) fn status(self) -> StatusCode {
        match self {
            Refusal::ServerFull => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::TooManyFromAddress => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// The response body: what happened, for a person reading it.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Refusal::ServerFull => "server at its connection limit; retry later\n",
            Refusal::TooManyFromAddress => "too many connections from this address\n",
        }
    }
}

/// One admitted connection; counted until dropped.
#[derive(Debug)]
pub(crate) struct Admission {
    limits: Arc<ConnectionLimits>,
    /// The client it counts against (see [`client_of`]).
    client: IpAddr,
}

/// The client a connection from `ip` counts against: the IPv4 address
/// (IPv4-mapped IPv6 addresses included), or the /64 network of an IPv6
/// address, its interface bits zeroed.
fn client_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        v4 => v4,
    }
}

impl ConnectionLimits {
    /// Limits of `None` do not limit.
    pub(crate) fn new(max_total: Option<usize>, max_per_ip: Option<usize>) -> Self {
        ConnectionLimits {
            max_total,
            max_per_ip,
            total: AtomicUsize::new(0),
            per_ip: Mutex::default(),
            log: RefusalLog::default(),
        }
    }

    /// Counts a new connection from `ip`, or says why it is over a limit
    /// (and logs that, at most once a second).
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Admission, Refusal> {
        let client = client_of(ip);
        let total = self.total.fetch_add(1, Ordering::AcqRel) + 1;
        let refusal = if self.max_total.is_some_and(|max| total > max) {
            Some(Refusal::ServerFull)
        } else if let Some(max) = self.max_per_ip {
            let mut per_ip = crate::task::lock(&self.per_ip);
            if per_ip.get(&client).is_some_and(|&open| open >= max) || max == 0 {
                Some(Refusal::TooManyFromAddress)
            } else {
                *per_ip.entry(client).or_insert(0) += 1;
                None
            }
        } else {
            None
        };
        if let Some(refusal) = refusal {
            self.total.fetch_sub(1, Ordering::AcqRel);
            self.log.refused(ip.to_canonical(), refusal, self);
            return Err(refusal);
        }
        Ok(Admission {
            limits: self.clone(),
            client,
        })
    }

    fn release(&self, client: IpAddr) {
        self.total.fetch_sub(1, Ordering::AcqRel);
        if self.max_per_ip.is_some() {
            let mut per_ip = crate::task::lock(&self.per_ip);
            if let Some(open) = per_ip.get_mut(&client) {
                *open -= 1;
                if *open == 0 {
                    per_ip.remove(&client);
                }
            }
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.limits.release(self.client);
    }
}

/// Logs refusals without letting a flood of them flood the log: the first
/// in each second is logged with the count of those not logged before it.
#[derive(Debug, Default)]
struct RefusalLog {
    last_second: AtomicU64,
    unlogged: AtomicU64,
}

impl RefusalLog {
    fn refused(&self, ip: IpAddr, refusal: Refusal, limits: &ConnectionLimits) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let last = self.last_second.load(Ordering::Relaxed);
        if last == now
            || self
                .last_second
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            self.unlogged.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let unlogged = self.unlogged.swap(0, Ordering::Relaxed);
        let limit = match refusal {
            Refusal::ServerFull => limits.max_total,
            Refusal::TooManyFromAddress => limits.max_per_ip,
        };
        tracing::warn!(
            "{ip}: connection refused ({}): {} (limit {}); {unlogged} more refused since the last such line",
            refusal.status().as_u16(),
            refusal.message().trim_end(),
            limit.unwrap_or(0),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn the_total_limit_refuses_with_503_and_frees_on_drop() {
        let limits = Arc::new(ConnectionLimits::new(Some(2), None));
        let a = limits.admit(ip(1)).unwrap();
        let _b = limits.admit(ip(2)).unwrap();
        assert_eq!(limits.admit(ip(3)).unwrap_err(), Refusal::ServerFull);
        assert_eq!(
            Refusal::ServerFull.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        drop(a);
        let _c = limits.admit(ip(3)).unwrap();
        assert_eq!(limits.total.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn the_per_address_limit_counts_each_address_alone() {
        let limits = Arc::new(ConnectionLimits::new(None, Some(2)));
        let a1 = limits.admit(ip(1)).unwrap();
        let _a2 = limits.admit(ip(1)).unwrap();
        assert_eq!(
            limits.admit(ip(1)).unwrap_err(),
            Refusal::TooManyFromAddress
        );
        let _b = limits.admit(ip(2)).unwrap();
        drop(a1);
        let _a3 = limits.admit(ip(1)).unwrap();
        // An IPv4-mapped IPv6 address is the same client.
        let mapped = IpAddr::from(std::net::Ipv4Addr::new(127, 0, 0, 1).to_ipv6_mapped());
        assert_eq!(
            limits.admit(mapped).unwrap_err(),
            Refusal::TooManyFromAddress
        );
    }

    #[test]
    fn an_ipv6_client_counts_by_its_64_network() {
        let limits = Arc::new(ConnectionLimits::new(None, Some(2)));
        let v6 = |s: &str| s.parse::<IpAddr>().unwrap();
        let _a = limits.admit(v6("2001:db8:1:2::1")).unwrap();
        let _b = limits.admit(v6("2001:db8:1:2:ffff::7")).unwrap();
        assert_eq!(
            limits.admit(v6("2001:db8:1:2:abcd::1")).unwrap_err(),
            Refusal::TooManyFromAddress
        );
        // The next /64 is another client.
        let _c = limits.admit(v6("2001:db8:1:3::1")).unwrap();
    }

    #[test]
    fn addresses_are_forgotten_when_their_last_connection_ends() {
        let limits = Arc::new(ConnectionLimits::new(Some(10), Some(1)));
        let admissions: Vec<_> = (1..=5).map(|n| limits.admit(ip(n)).unwrap()).collect();
        assert_eq!(limits.per_ip.lock().unwrap().len(), 5);
        assert!(limits.admit(ip(1)).is_err());
        drop(admissions);
        assert!(limits.per_ip.lock().unwrap().is_empty());
        assert_eq!(limits.total.load(Ordering::Relaxed), 0);
    }
}
