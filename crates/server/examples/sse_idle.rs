//! Memory per idle Server-Sent Events stream: a server with one event
//! stream per request, and a client that opens many and holds them.
//!
//! ```text
//! sse_idle server [--listen 127.0.0.1:0] [--heartbeat-secs S=15] [--source channel|pending]
//! sse_idle client --addr 127.0.0.1:PORT --streams N [--http h1|h2]
//!     [--streams-per-connection K=100] [--per-ip P=1000] [--concurrency C=200]
//! ```
//!
//! `server` is a [`pushwire::Server`] whose `/events` answers with an
//! [`Sse`] response that sends a heartbeat comment every
//! `--heartbeat-secs` and ends when the server shuts down. With
//! `--source channel` (the default, what an application feeding events
//! does) each stream is fed by [`Sse::channel`] and the server keeps its
//! [`SseSender`] in a registry, as a pub/sub hub would; with
//! `--source pending` the stream's event source never yields. It prints
//! `listening ADDR` once bound.
//!
//! `client` opens `--streams` event streams and holds them open without
//! reading: over HTTP/1.1 one TCP connection each, from the client
//! addresses 127.0.0.2, 127.0.0.3, ... (`--per-ip` connections each, to
//! get past one address's ephemeral ports); over HTTP/2 (h2c by prior
//! knowledge) `--streams-per-connection` streams on each connection. Once
//! every stream's response head (`200`, `text/event-stream`) has arrived
//! it prints `established N` and holds them until killed.
//!
//! `bench/sse-idle-memory.sh` reads the server's RSS before and after and
//! prints the table.

use std::convert::Infallible;
use std::io::{self, Write as _};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use h2::client::SendRequest;
use http::{Request, Response, StatusCode};
use hyper::service::service_fn;
use pushwire::proto::sse::Event;
use pushwire::sse::{Sse, SseSender};
use pushwire::RequestBody;
use pushwire::{Body, ConnectionInfo, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;

const USAGE: &str = "usage:
  sse_idle server [--listen ADDR=127.0.0.1:0] [--heartbeat-secs S=15] [--source channel|pending]
  sse_idle client --addr ADDR --streams N [--http h1|h2] [--streams-per-connection K=100]
      [--per-ip P=1000] [--concurrency C=200]";

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let command = args.next();
    let options = Options::parse(args)?;
    let runtime = match command.as_deref() {
        // The server gets as many workers as cores it may run on.
        Some("server") => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
        Some("client") => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        _ => return Err(USAGE.to_owned()),
    }
    .map_err(|e| e.to_string())?;
    if command.as_deref() == Some("server") {
        runtime.block_on(serve(options)).map_err(|e| e.to_string())
    } else {
        runtime.block_on(hold_streams(options))
    }
}

/// Options of both subcommands.
struct Options {
    listen: String,
    heartbeat: Duration,
    source: Source,
    addr: Option<SocketAddr>,
    streams: usize,
    http2: bool,
    streams_per_connection: usize,
    per_ip: usize,
    concurrency: usize,
}

/// What feeds each event stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// [`Sse::channel`], its sender kept in a registry.
    Channel,
    /// A stream that never yields.
    Pending,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut options = Options {
            listen: "127.0.0.1:0".to_owned(),
            heartbeat: Duration::from_secs(15),
            source: Source::Channel,
            addr: None,
            streams: 1000,
            http2: false,
            streams_per_connection: 100,
            per_ip: 1000,
            concurrency: 200,
        };
        while let Some(arg) = args.next() {
            let value = args.next().ok_or(format!("{arg} needs a value"))?;
            let number = || value.parse::<u64>().map_err(|e| format!("{value:?}: {e}"));
            match arg.as_str() {
                "--listen" => options.listen = value.clone(),
                "--heartbeat-secs" => options.heartbeat = Duration::from_secs(number()?),
                "--source" => {
                    options.source = match value.as_str() {
                        "channel" => Source::Channel,
                        "pending" => Source::Pending,
                        _ => return Err(format!("--source channel|pending, not {value:?}")),
                    }
                }
                "--addr" => {
                    options.addr = Some(value.parse().map_err(|e| format!("{value:?}: {e}"))?)
                }
                "--streams" => options.streams = number()? as usize,
                "--http" => {
                    options.http2 = match value.as_str() {
                        "h1" => false,
                        "h2" => true,
                        _ => return Err(format!("--http h1|h2, not {value:?}")),
                    }
                }
                "--streams-per-connection" => {
                    options.streams_per_connection = number()?.max(1) as usize
                }
                "--per-ip" => options.per_ip = number()?.max(1) as usize,
                "--concurrency" => options.concurrency = number()?.max(1) as usize,
                _ => return Err(format!("unknown argument {arg:?}\n{USAGE}")),
            }
        }
        Ok(options)
    }
}

// ---------------------------------------------------------------- server

/// The senders of every open channel-fed stream, as a hub would keep its
/// subscribers.
type Registry = Arc<Mutex<Vec<SseSender>>>;

async fn serve(options: Options) -> io::Result<()> {
    let server = Server::bind(options.listen.as_str()).await?;
    println!("listening {}", server.local_addr()?);
    io::stdout().flush()?;
    let registry = Registry::default();
    let (heartbeat, source) = (options.heartbeat, options.source);
    let service = service_fn(move |req| route(req, heartbeat, source, registry.clone()));
    server
        .serve_with_shutdown(service, pushwire::server::shutdown_signal())
        .await
}

/// `/events`: an idle event stream with heartbeats; anything else 404.
async fn route(
    req: Request<RequestBody>,
    heartbeat: Duration,
    source: Source,
    registry: Registry,
) -> Result<Response<Body>, Infallible> {
    if req.uri().path() != "/events" {
        let mut response = Response::new(Body::from("not found"));
        *response.status_mut() = StatusCode::NOT_FOUND;
        return Ok(response);
    }
    let sse = match source {
        Source::Channel => {
            let (tx, sse) = Sse::channel(8);
            let mut registry = registry.lock().unwrap_or_else(|e| e.into_inner());
            registry.retain(|tx| !tx.is_closed());
            registry.push(tx);
            sse
        }
        Source::Pending => Sse::new(NeverYields),
    };
    let mut sse = sse.heartbeat(heartbeat);
    if let Some(info) = req.extensions().get::<ConnectionInfo>() {
        sse = sse.until(info.shutting_down());
    }
    Ok(sse.into_response())
}

/// An event source that never yields.
struct NeverYields;

impl futures_core::Stream for NeverYields {
    type Item = Event;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Event>> {
        std::task::Poll::Pending
    }
}

// ---------------------------------------------------------------- client

/// What the client holds open: TCP connections (HTTP/1.1) or HTTP/2
/// response bodies.
enum Held {
    Tcp { _connection: TcpStream },
    H2 { _body: h2::RecvStream },
}

/// The client address for the `index`th connection: 127.0.0.2 onwards.
fn client_ip(index: usize, per_ip: usize) -> Result<Ipv4Addr, String> {
    let host = 2 + index / per_ip;
    if host > 254 {
        return Err("too many connections for --per-ip: raise it".to_owned());
    }
    Ok(Ipv4Addr::new(127, 0, 0, host as u8))
}

async fn connect_from(ip: Ipv4Addr, addr: SocketAddr) -> Result<TcpStream, String> {
    let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
    socket
        .bind(SocketAddr::from((ip, 0)))
        .map_err(|e| format!("bind {ip}: {e}"))?;
    let tcp = socket
        .connect(addr)
        .await
        .map_err(|e| format!("connect {addr} from {ip}: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    Ok(tcp)
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

async fn hold_streams(options: Options) -> Result<(), String> {
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
