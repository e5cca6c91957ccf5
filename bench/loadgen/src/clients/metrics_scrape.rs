//! One value of a `pushwire serve` node's Prometheus text (`GET
//! /metrics`), read over a blocking HTTP/1.1 request (`Connection:
//! close`): a counter the hub keeps that a scenario reports beside its own
//! measurements (e.g. `pushwire_link_breaks_total`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::error::BenchError;

/// How long the scrape may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The value of the sample `name` (without labels) in the node's
/// `/metrics`, or `None` when it has none.
pub fn value(addr: SocketAddr, name: &str) -> Result<Option<f64>, BenchError> {
    let what = |e| BenchError::io(format!("GET /metrics of {addr}"), e);
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(what)?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(what)?;
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(what)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).map_err(what)?;
    Ok(sample(&String::from_utf8_lossy(&response), name))
}

/// The value of `name`'s sample line in Prometheus text.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(' ')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_sample_line_gives_its_value() {
        let text = "# HELP pushwire_link_breaks Channels…\n# TYPE pushwire_link_breaks counter\n\
                    pushwire_link_breaks_total 1001\npushwire_link_breaks_total_x 3\n";
        assert_eq!(
            super::sample(text, "pushwire_link_breaks_total"),
            Some(1001.0)
        );
        assert_eq!(super::sample(text, "pushwire_nothing_total"), None);
    }
}
