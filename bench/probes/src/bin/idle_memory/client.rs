//! The client side: WebSocket connections to the server, opened from
//! 127.0.0.2 onwards, that complete the handshake and then stay idle or
//! echo one message.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use pushwire::proto::bytes::BytesMut;
use pushwire::proto::ws::deflate::DeflateConfig;
use pushwire::proto::ws::handshake::{generate_key, parse_response, ClientRequest};
use pushwire::proto::Role;
use pushwire::ws::Negotiated;
use pushwire::{Message, WebSocket, WebSocketConfig};
use pushwire_probes::source_addr::{client_ip, connect_from};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::args::Args;

/// A client connection.
pub type Ws = WebSocket<TcpStream>;

/// A cheap, distinct nonce per connection (the key needs no real entropy here).
fn nonce(i: u64) -> [u8; 16] {
    let mut x = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut out = [0u8; 16];
    for chunk in out.chunks_mut(8) {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out
}

/// The client's WebSocket settings: permessage-deflate offered or not.
pub fn client_config(deflate: bool) -> WebSocketConfig {
    WebSocketConfig::default().deflate(deflate.then(DeflateConfig::default))
}

/// Opens one connection from `local` and performs the client handshake
/// over that already connected stream.
pub async fn open(
    i: usize,
    local: Ipv4Addr,
    server: SocketAddr,
    config: &WebSocketConfig,
) -> Result<Ws, String> {
    let mut tcp = connect_from(local, server).await?;
    let request = ClientRequest {
        host: server.to_string(),
        target: "/idle".to_owned(),
        key: generate_key(nonce(i as u64)),
        protocols: Vec::new(),
        deflate: config.deflate,
        headers: Vec::new(),
    };
    tcp.write_all(&request.encode())
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut buf = BytesMut::with_capacity(1024);
    let (response, used) = loop {
        if let Some(parsed) = parse_response(&buf, config.limits.max_handshake_bytes)
            .map_err(|e| format!("response: {e}"))?
        {
            break parsed;
        }
        if tcp
            .read_buf(&mut buf)
            .await
            .map_err(|e| format!("read: {e}"))?
            == 0
        {
            return Err("closed during the handshake".to_owned());
        }
    };
    let leftover = buf.split_off(used);
    let (protocol, deflate) = response
        .validate(&request)
        .map_err(|e| format!("handshake: {e}"))?;
    let negotiated = Negotiated { protocol, deflate };
    Ok(WebSocket::from_upgraded(
        tcp,
        Role::Client,
        config,
        negotiated,
        leftover,
    ))
}

/// Sends one text message and waits for its echo.
pub async fn echo_once(ws: &mut Ws, payload: &str) -> Result<(), String> {
    ws.send(Message::text(payload.to_owned()))
        .await
        .map_err(|e| format!("send: {e}"))?;
    loop {
        match ws.recv().await {
            Some(Ok(Message::Text(text))) if text.as_str() == payload => return Ok(()),
            Some(Ok(m)) if m.is_data() => return Err("echo differs".to_owned()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(format!("recv: {e}")),
            None => return Err("closed before the echo".to_owned()),
        }
    }
}

/// Opens `args.connections` connections, at most `args.concurrency` at a time.
pub async fn open_all(args: &Args, server: SocketAddr) -> Result<Vec<Ws>, String> {
    let config = std::sync::Arc::new(client_config(args.deflate));
    let mut open_conns: Vec<Option<Ws>> = (0..args.connections).map(|_| None).collect();
    let mut tasks = JoinSet::new();
    let mut next = 0;
    let mut failures = Vec::new();
    while next < args.connections || !tasks.is_empty() {
        while next < args.connections && tasks.len() < args.concurrency {
            let i = next;
            next += 1;
            let local = client_ip(i, args.per_ip)?;
            let config = config.clone();
            tasks.spawn(async move {
                let r =
                    tokio::time::timeout(Duration::from_secs(10), open(i, local, server, &config))
                        .await;
                (
                    i,
                    r.unwrap_or_else(|_| Err("handshake timed out".to_owned())),
                )
            });
        }
        if let Some(joined) = tasks.join_next().await {
            let (i, result) = joined.map_err(|e| e.to_string())?;
            match result {
                Ok(ws) => open_conns[i] = Some(ws),
                Err(e) => failures.push(format!("#{i}: {e}")),
            }
        }
    }
    if !failures.is_empty() {
        return Err(format!(
            "{} of {} connections failed, first: {}",
            failures.len(),
            args.connections,
            failures[0]
        ));
    }
    Ok(open_conns.into_iter().flatten().collect())
}

/// One echo per connection, at most `args.concurrency` at a time.
pub async fn echo_all(args: &Args, conns: Vec<Ws>) -> Result<Vec<Ws>, String> {
    let payload: std::sync::Arc<str> = "x".repeat(args.payload).into();
    let mut pending = conns.into_iter();
    let mut done = Vec::with_capacity(args.connections);
    let mut tasks = JoinSet::new();
    loop {
        while tasks.len() < args.concurrency {
            let Some(mut ws) = pending.next() else { break };
            let payload = payload.clone();
            tasks.spawn(async move {
                let r = tokio::time::timeout(Duration::from_secs(10), echo_once(&mut ws, &payload))
                    .await
                    .unwrap_or_else(|_| Err("echo timed out".to_owned()));
                r.map(|()| ws)
            });
        }
        match tasks.join_next().await {
            Some(joined) => done.push(joined.map_err(|e| e.to_string())??),
            None => break,
        }
    }
    Ok(done)
}
