//! Checks that a server really streams `/publish` on `/events` before it
//! is measured: one stream is opened and its head awaited, the scenario's
//! message is published twice on a second connection (each answered
//! `202`), and the stream's body goes through the chunked decoder and
//! pushwire-proto's full `text/event-stream` parser (the browser's
//! rules). Both events must carry the message byte for byte, with
//! numeric ids one apart. The timed loop only reads stamps and ids, so
//! this is where the framing is proven.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use pushwire_proto::sse::{MessageEvent, Parser, Received};

use super::chunked::ChunkedDecoder;
use crate::error::BenchError;
use crate::probe::ProbeReport;

/// How long the probe waits in all.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens `/events` on `addr`, publishes `message` twice and checks both
/// events.
pub fn probe(addr: SocketAddr, message: &str) -> Result<ProbeReport, BenchError> {
    let fail = |what: String| BenchError::Peer(format!("probe of {addr}: {what}"));
    let io = |what: &'static str| move |e| BenchError::io(format!("probe of {addr}: {what}"), e);
    let deadline = Instant::now() + PROBE_TIMEOUT;
    let mut stream = connect(addr).map_err(io("connect"))?;
    stream
        .write_all(
            format!("GET /events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n")
                .as_bytes(),
        )
        .map_err(io("send GET /events"))?;
    let (head, mut rest) = read_head(&mut stream).map_err(io("read the /events head"))?;
    let lower = head.to_ascii_lowercase();
    if !head.starts_with("HTTP/1.1 200") || !lower.contains("content-type: text/event-stream") {
        return Err(fail(format!("GET /events answered {head:?}")));
    }
    let chunked = lower.contains("transfer-encoding: chunked");

    let mut publisher = connect(addr).map_err(io("connect the publisher"))?;
    for _ in 0..2 {
        publisher
            .write_all(
                format!(
                    "POST /publish HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{message}",
                    message.len()
                )
                .as_bytes(),
            )
            .map_err(io("send POST /publish"))?;
        let (head, body) = read_head(&mut publisher).map_err(io("read the /publish answer"))?;
        if !head.starts_with("HTTP/1.1 202") {
            return Err(fail(format!("POST /publish answered {head:?}")));
        }
        // The answer is a short JSON body with Content-Length; read it off.
        let length = header_value(&head, "content-length")
            .and_then(|v| v.parse::<usize>().ok())
            .ok_or_else(|| fail("POST /publish answered without Content-Length".to_owned()))?;
        let mut left = length.saturating_sub(body.len());
        let mut scratch = [0; 256];
        while left > 0 {
            let n = publisher
                .read(&mut scratch[..left.min(256)])
                .map_err(io("read the /publish body"))?;
            if n == 0 {
                return Err(fail("the publisher's connection closed".to_owned()));
            }
            left -= n;
        }
    }

    let mut decoder = chunked.then(ChunkedDecoder::default);
    let mut parser = Parser::new();
    let mut got: Vec<MessageEvent> = Vec::new();
    let mut buf = vec![0; 64 * 1024];
    loop {
        let mut fed = Ok(());
        let mut parsed = Ok(());
        match decoder.as_mut() {
            Some(decoder) => {
                fed = decoder.feed(&rest, |body| {
                    if parsed.is_ok() {
                        parsed = parser.feed(body);
                    }
                })
            }
            None => parsed = parser.feed(&rest),
        }
        fed.map_err(|e| fail(format!("bad chunked body: {}", e.0)))?;
        parsed.map_err(|e| fail(format!("bad event stream: {e}")))?;
        got.extend(parser.by_ref().filter_map(|item| match item {
            Received::Message(event) => Some(event),
            _ => None,
        }));
        if got.len() >= 2 {
            break;
        }
        if Instant::now() > deadline {
            return Err(fail(format!("{} of 2 events arrived in time", got.len())));
        }
        let n = stream.read(&mut buf).map_err(io("read /events"))?;
        if n == 0 {
            return Err(fail("the event stream ended".to_owned()));
        }
        rest = buf[..n].to_vec();
    }
    for event in &got {
        if event.event != "message" || event.data != message {
            return Err(fail(format!(
                "the event {:?} / {:?} is not the published message {message:?}",
                event.event, event.data
            )));
        }
    }
    let ids: Vec<Option<u64>> = got.iter().map(|e| e.id.parse().ok()).collect();
    match ids[..2] {
        [Some(a), Some(b)] if b == a + 1 => {}
        _ => {
            return Err(fail(format!(
                "event ids {:?}, {:?} are not consecutive numbers",
                got[0].id, got[1].id
            )))
        }
    }
    Ok(ProbeReport {
        deflate: None,
        extensions: None,
    })
}

fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT)?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Reads up to the end of a response head; returns the head and the
/// bytes read after it.
fn read_head(stream: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    let mut input = Vec::new();
    let mut buf = [0; 4096];
    loop {
        if let Some(end) = input.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&input[..end]).into_owned();
            return Ok((head, input[end + 4..].to_vec()));
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        input.extend_from_slice(&buf[..n]);
    }
}

/// The value of header `name` (lower case) in a response head.
fn header_value<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}
