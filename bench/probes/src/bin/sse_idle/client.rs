//! `client`: opens N event streams over HTTP/1.1 or HTTP/2 and holds
//! them open without reading.

use std::io::{self, Write as _};
use std::net::{Ipv4Addr, SocketAddr};

use bytes::Bytes;
use h2::client::SendRequest;
use http::{Request, StatusCode};
use pushwire_probes::source_addr::{client_ip, connect_from};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::options::Options;
use crate::USAGE;

// ---------------------------------------------------------------- client

/// What the client holds open: TCP connections (HTTP/1.1) or HTTP/2
/// response bodies.
enum Held {
    Tcp { _connection: TcpStream },
    H2 { _body: h2::RecvStream },
}

/// One event stream over HTTP/1.1: sends the request, reads the response
/// head and keeps the connection.
async fn h1_stream(ip: Ipv4Addr, addr: SocketAddr) -> Result<Held, String> {
    let mut tcp = connect_from(ip, addr).await?;
    let request =
        format!("GET /events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n");
    tcp.write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut head = Vec::with_capacity(256);
    let mut chunk = [0u8; 512];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tcp.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the server closed the connection before the response head".to_owned());
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    if !head.starts_with("HTTP/1.1 200") || !head.contains("text/event-stream") {
        return Err(format!("unexpected response: {head:?}"));
    }
    Ok(Held::Tcp { _connection: tcp })
}

/// An h2c connection by prior knowledge.
async fn h2_connection(ip: Ipv4Addr, addr: SocketAddr) -> Result<SendRequest<Bytes>, String> {
    let tcp = connect_from(ip, addr).await?;
    let (client, connection) = h2::client::handshake(tcp)
        .await
        .map_err(|e| format!("h2 handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// One event stream over HTTP/2: a GET whose response head has arrived.
async fn h2_stream(client: SendRequest<Bytes>, addr: SocketAddr) -> Result<Held, String> {
    let mut client = client.ready().await.map_err(|e| e.to_string())?;
    let request = Request::get(format!("http://{addr}/events"))
        .header("accept", "text/event-stream")
        .body(())
        .map_err(|e| e.to_string())?;
    let (response, _) = client
        .send_request(request, true)
        .map_err(|e| e.to_string())?;
    let response = response.await.map_err(|e| format!("GET /events: {e}"))?;
    if response.status() != StatusCode::OK {
        return Err(format!("GET /events: {}", response.status()));
    }
    Ok(Held::H2 {
        _body: response.into_body(),
    })
}

/// Opens `--streams` event streams, prints `established N` once every
/// response head has arrived, and holds them until killed.
pub async fn hold_streams(options: Options) -> Result<(), String> {
    let addr = options.addr.ok_or(format!("--addr is required\n{USAGE}"))?;
    let mut held = Vec::with_capacity(options.streams);
    let mut pending = JoinSet::new();
    let mut connections: Vec<SendRequest<Bytes>> = Vec::new();
    for i in 0..options.streams {
        if pending.len() >= options.concurrency {
            let opened = pending.join_next().await.expect("tasks are running");
            held.push(opened.map_err(|e| e.to_string())??);
        }
        if options.http2 {
            let connection = i / options.streams_per_connection;
            if connection == connections.len() {
                let ip = client_ip(connection, options.per_ip)?;
                connections.push(h2_connection(ip, addr).await?);
            }
            pending.spawn(h2_stream(connections[connection].clone(), addr));
        } else {
            pending.spawn(h1_stream(client_ip(i, options.per_ip)?, addr));
        }
    }
    while let Some(opened) = pending.join_next().await {
        held.push(opened.map_err(|e| e.to_string())??);
    }
    println!("established {}", held.len());
    io::stdout().flush().map_err(|e| e.to_string())?;
    // Hold every stream until killed.
    std::future::pending::<()>().await;
    drop(held);
    Ok(())
}
