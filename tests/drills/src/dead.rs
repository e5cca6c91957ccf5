//! Drill 2, dead peers: clients that go silent without a FIN — the socket
//! stays open, nothing more is read or answered, as when a laptop lid
//! closes or a NAT forgets the flow — on each bidirectional transport:
//! WebSocket, HTTP streaming, SSE (whose pongs would go to `/emulation`)
//! and a held long poll. The hub's ping (`{}`, every `ping_interval`)
//! goes unanswered, and after `pong_timeout` the connection must be
//! closed (3012 "no pong") and its resources freed: the drill watches
//! `pushwire_transport_connections{transport=…}` on `/metrics` go back
//! down while a few healthy WebSocket clients (which answer pings) stay.
//! Afterwards it reads what each silent client was sent last.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::hub::{self, HubWs, Line, CONNECT};
use crate::server::{free_port, Server, ServerSpec};
use crate::stats::Checks;
use crate::ws::{self, Incoming};
use crate::Args;

const NS: &str = "dp";

/// Runs the drill; false when a check failed.
pub async fn run(args: &Args) -> bool {
    let per = args.usize("clients", 20);
    let healthy = args.usize("healthy", 5);
    let ping = args.f64("ping", 2.0);
    let pong = args.f64("pong", 1.0);
    let hold = args.f64("hold", 2.0);
    let session = args.f64("session-timeout", 4.0);
    println!(
        "== dead peers: {per} silent clients per transport, {healthy} healthy; ping {ping} s, pong timeout {pong} s, long poll hold {hold} s, session timeout {session} s"
    );
    let mut checks = Checks::default();
    let config = hub::config(
        vec![hub::namespace(NS, 100, 1 << 20, "disconnect")],
        &format!("{}ms", (ping * 1e3) as u64),
        &format!("{}ms", (pong * 1e3) as u64),
        serde_json::json!({"long_poll": {"hold": format!("{}ms", (hold * 1e3) as u64),
                                          "session_timeout": format!("{}ms", (session * 1e3) as u64)}}),
    );
    let spec = ServerSpec {
        config,
        name: "dead".into(),
        args: vec![],
    };
    let server = match Server::start(&spec, free_port().unwrap_or(0)).await {
        Ok(s) => s,
        Err(e) => {
            checks.check(false, format!("server starts: {e}"));
            return checks.finish("dead");
        }
    };
    let addr = server.addr;
    let channel = format!("{NS}:dead");
    // Healthy clients answer pings for the whole drill.
    let mut healthy_tasks = Vec::new();
    for i in 0..healthy {
        let channel = channel.clone();
        healthy_tasks.push(tokio::spawn(async move {
            let Ok(mut c) = hub::subscribe(addr, hub::source(i), &channel, None, None).await else {
                return false;
            };
            loop {
                match tokio::time::timeout(Duration::from_secs(60), c.ws.recv()).await {
                    Ok(Ok(Incoming::Text(m))) => {
                        for line in hub::lines(&m) {
                            if hub::parse_line(line) == Line::Ping
                                && c.ws.send_text("{}").await.is_err()
                            {
                                return false;
                            }
                        }
                    }
                    Ok(Ok(Incoming::Close(..))) | Ok(Err(_)) => return false,
                    Err(_) => return true,
                }
            }
        }));
    }
    let base = healthy + 100;
    let mut silent_ws: Vec<HubWs> = Vec::new();
    let mut silent_http: Vec<(&str, TcpStream)> = Vec::new();
    for i in 0..per {
        match hub::subscribe(addr, hub::source(base + i), &channel, None, None).await {
            Ok(c) => silent_ws.push(c),
            Err(e) => println!("  websocket client {i}: {e}"),
        }
        for kind in ["http_stream", "sse", "long_poll"] {
            match open_silent(addr, base + i, kind).await {
                Ok(s) => silent_http.push((kind, s)),
                Err(e) => println!("  {kind} client {i}: {e}"),
            }
        }
    }
    let opened = Instant::now();
    let gauge = |t: &str| format!("pushwire_transport_connections{{transport=\"{t}\"}}");
    let metrics = server.metrics().await.unwrap_or_default();
    let mut expected = Vec::new();
    for (t, want) in [
        ("websocket", per + healthy),
        ("http_stream", per),
        ("sse", per),
        ("long_poll", per),
    ] {
        let now = crate::http::metric(&metrics, &gauge(t)).unwrap_or(-1.0);
        checks.check(
            now as usize == want,
            format!("{t}: {now} open, {want} expected"),
        );
        expected.push((t, if t == "websocket" { healthy } else { 0 }));
    }
    let deadline = Duration::from_secs_f64(hold + session + ping + pong + 10.0);
    let mut freed_at: Vec<Option<f64>> = vec![None; expected.len()];
    while opened.elapsed() < deadline && freed_at.iter().any(Option::is_none) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let text = server.metrics().await.unwrap_or_default();
        for (k, (t, want)) in expected.iter().enumerate() {
            let now = crate::http::metric(&text, &gauge(t)).unwrap_or(-1.0);
            if freed_at[k].is_none() && now as usize == *want && now >= 0.0 {
                freed_at[k] = Some(opened.elapsed().as_secs_f64());
            }
        }
    }
    for (k, (t, want)) in expected.iter().enumerate() {
        match freed_at[k] {
            Some(s) => checks.check(
                true,
                format!("{t}: silent clients closed, gauge back to {want} within {s:.1} s"),
            ),
            None => checks.check(
                false,
                format!(
                    "{t}: gauge not back to {want} within {:.0} s",
                    deadline.as_secs_f64()
                ),
            ),
        }
    }
    let text = server.metrics().await.unwrap_or_default();
    let conns = crate::http::metric(&text, "pushwire_connections").unwrap_or(-1.0);
    let subs = crate::http::metric(&text, "pushwire_subscriptions").unwrap_or(-1.0);
    checks.check(
        conns as usize == healthy && subs as usize == healthy,
        format!(
            "hub connections {conns} and subscriptions {subs} back to the {healthy} healthy ones"
        ),
    );
    // What the silent clients were told, read now.
    let mut codes: std::collections::BTreeMap<String, usize> = Default::default();
    for mut c in silent_ws {
        let told = match tokio::time::timeout(Duration::from_secs(2), until_close(&mut c)).await {
            Ok(Some((code, reason))) => format!("websocket close {code} {reason}"),
            _ => "websocket: no close frame".into(),
        };
        *codes.entry(told).or_default() += 1;
    }
    for (kind, mut s) in silent_http {
        let mut got = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(1), s.read_to_end(&mut got)).await;
        let text = String::from_utf8_lossy(&got);
        let told = match text.find("\"disconnect\":{\"code\":") {
            Some(i) => format!(
                "{kind} disconnect {}",
                &text[i + 21..(i + 25).min(text.len())]
            ),
            None if kind == "long_poll" => format!("{kind}: held poll answered, session expired"),
            None => format!("{kind}: no disconnect push"),
        };
        *codes.entry(told).or_default() += 1;
    }
    for (told, n) in &codes {
        println!("  {n} × {told}");
    }
    let mut alive = 0;
    for t in healthy_tasks {
        t.abort();
        if t.await.is_err() {
            alive += 1;
        }
    }
    checks.check(
        alive == healthy,
        format!("{alive} of {healthy} healthy clients still connected"),
    );
    checks.finish("dead")
}

/// Reads what a silent WebSocket client was sent, up to the close frame.
async fn until_close(c: &mut HubWs) -> Option<(u16, String)> {
    loop {
        match c.ws.recv().await {
            Ok(Incoming::Close(code, reason)) => return Some((code, reason)),
            Ok(Incoming::Text(_)) => {}
            Err(_) => return None,
        }
    }
}

/// Opens an emulation transport (`http_stream`, `sse`) or a long-poll
/// session with a held poll, reads up to the connect reply, and returns
/// the socket, which is then never read nor written again.
async fn open_silent(addr: SocketAddr, i: usize, kind: &str) -> io::Result<TcpStream> {
    let mut s = ws::tcp(addr, hub::source(i), None).await?;
    let request = match kind {
        "sse" => format!(
            "GET /connection/sse?cf_connect={} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n",
            percent(CONNECT)
        ),
        _ => format!(
            "POST /connection/{kind} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{CONNECT}",
            CONNECT.len()
        ),
    };
    s.write_all(request.as_bytes()).await?;
    let got = read_until(&mut s, b"\"connect\":{").await?;
    if !got.starts_with(b"HTTP/1.1 200") {
        return Err(io::Error::other(
            String::from_utf8_lossy(&got[..got.len().min(60)]).into_owned(),
        ));
    }
    if kind != "long_poll" {
        return Ok(s);
    }
    // Read the whole first batch, then hold a poll on a new connection.
    let text = String::from_utf8_lossy(&got).into_owned();
    let session = text
        .split("\"session\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .ok_or_else(|| io::Error::other("no session in the first batch"))?
        .to_owned();
    let mut poll = ws::tcp(addr, hub::source(i), None).await?;
    let request = format!(
        "POST /connection/long_poll?session={session}&ack=1 HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n"
    );
    poll.write_all(request.as_bytes()).await?;
    drop(s);
    Ok(poll)
}

async fn read_until(s: &mut TcpStream, needle: &[u8]) -> io::Result<Vec<u8>> {
    let mut got = Vec::new();
    let deadline = Duration::from_secs(10);
    tokio::time::timeout(deadline, async {
        while !got.windows(needle.len()).any(|w| w == needle) {
            let mut chunk = [0u8; 4096];
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
            }
            got.extend_from_slice(&chunk[..n]);
        }
        // The rest of the line (a long poll's session is on the line before).
        Ok(())
    })
    .await
    .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
    Ok(got)
}

/// Percent-encodes a query value.
pub fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
