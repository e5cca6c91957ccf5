//! WebSocket echo throughput over HTTP/1.1 (`Upgrade`) and over HTTP/2
//! (RFC 8441 extended CONNECT), side by side on the same server and load.
//!
//! ```text
//! ws_h2_vs_h1 server [--listen 127.0.0.1:0]
//! ws_h2_vs_h1 load --addr 127.0.0.1:PORT [--sets h1,h2x1,h2x10] [--sockets N=10]
//!     [--size BYTES=20] [--warmup-ms MS=500] [--duration-ms MS=2000]
//!     [--slice-ms MS=250] [--window browser|h2-default] [--server-pid PID]
//! ```
//!
//! `server` is a [`pushwire::Server`] with one *require* route, `/echo`,
//! that sends every data message back; it prints `listening ADDR` once
//! bound. `load` opens, for each of `--sets`, `--sockets` WebSockets to
//! it without permessage-deflate (so compression does not drown the
//! transport's cost): `h1` puts each on its own TCP connection (HTTP/1.1
//! `Upgrade`), `h2xC` makes them extended CONNECT streams spread
//! round-robin over C h2c connections (`h2x1`: all streams on one
//! connection, as a browser does per origin). Every WebSocket runs a
//! closed loop: send one binary message of `--size` bytes, wait for its
//! echo, repeat.
//!
//! One set runs at a time, the others wait idle, in turns of
//! `--slice-ms`, until each set has been measured for `--duration-ms`:
//! the sets share the machine's ups and downs, which on a shared machine
//! move a throughput by more than the difference being measured. Each
//! set first runs `--warmup-ms` on its own, and each turn starts with a
//! short settling time, unmeasured. One JSON line per set is printed:
//! messages per second and, when `--server-pid` is given, the CPU time
//! server and generator spent in its turns (from `/proc/PID/stat`, in
//! microseconds per message), which tells which side was saturated.
//!
//! The h2 client announces browser-like receive windows by default
//! (`--window browser`: 6 MiB per stream, 15 MiB per connection, as
//! Chromium does); `--window h2-default` keeps the protocol's 64 KiB.
//!
//! `bench/ws-h2-vs-h1.sh` builds this in release mode, pins server and
//! generator to different cores and prints the table.

use std::convert::Infallible;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2::client::SendRequest;
use http::{Method, Request, Response, StatusCode};
use hyper::service::service_fn;
use pushwire::proto::Role;
use pushwire::upgrade::{Http2Stream, UpgradedStream};
use pushwire::ws::Negotiated;
use pushwire::{
    Body, ClientBuilder, Message, RequestBody, Server, Upgrade, WebSocket, WebSocketConfig,
};
use tokio::io::{AsyncRead, AsyncWrite, BufReader};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// The `pushwire` binary's allocator, so that the server measured here
/// allocates as the one shipped does.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const USAGE: &str = "usage:
  ws_h2_vs_h1 server [--listen ADDR=127.0.0.1:0]
  ws_h2_vs_h1 load --addr ADDR [--sets h1,h2x1,h2x10] [--sockets N=10]
      [--size BYTES=20] [--warmup-ms MS=500] [--duration-ms MS=2000]
      [--slice-ms MS=250] [--window browser|h2-default] [--server-pid PID]";

/// How long a set runs, unmeasured, at the start of each of its turns:
/// the previous set's last echoes arrive meanwhile.
const SETTLE: Duration = Duration::from_millis(20);

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("server") => {
            let mut listen = "127.0.0.1:0".to_owned();
            while let Some(arg) = args.next() {
                match arg.as_str() {
                    "--listen" => listen = args.next().ok_or("--listen needs a value")?,
                    _ => return Err(format!("unknown argument {arg:?}\n{USAGE}")),
                }
            }
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?
                .block_on(serve(&listen))
                .map_err(|e| e.to_string())
        }
        Some("load") => {
            let load = LoadArgs::parse(args)?;
            // The generator is pinned to one core: one thread drives it all.
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?
                .block_on(run_load(load))
        }
        _ => Err(USAGE.to_owned()),
    }
}

// ---------------------------------------------------------------- server

async fn serve(listen: &str) -> io::Result<()> {
    let server = Server::bind(listen).await?;
    println!("listening {}", server.local_addr()?);
    io::stdout().flush()?;
    server
        .serve_with_shutdown(service_fn(route), pushwire::server::shutdown_signal())
        .await
}

/// `/echo`: WebSocket only, every data message sent back; `/healthz`: `ok`.
async fn route(mut req: Request<RequestBody>) -> Result<Response<Body>, Infallible> {
    Ok(match req.uri().path() {
        "/echo" => match Upgrade::require(&mut req) {
            Ok(upgrade) => upgrade.on_upgrade(echo),
            Err(rejection) => rejection.into_response(),
        },
        "/healthz" => Response::new(Body::from("ok")),
        _ => {
            let mut response = Response::new(Body::from("not found"));
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
    })
}

async fn echo(mut ws: WebSocket<UpgradedStream>) {
    while let Some(Ok(message)) = ws.recv().await {
        if message.is_data() && ws.send(message).await.is_err() {
            break;
        }
    }
}

// ------------------------------------------------------------------ load

/// How one set's WebSockets reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    /// Each on its own TCP connection, by HTTP/1.1 `Upgrade`.
    H1,
    /// As HTTP/2 streams over this many connections.
    H2 { connections: usize },
}

impl Transport {
    fn parse(name: &str) -> Result<Self, String> {
        match name {
            "h1" => Ok(Transport::H1),
            _ => name
                .strip_prefix("h2x")
                .and_then(|c| c.parse().ok())
                .filter(|&c| c > 0)
                .map(|connections| Transport::H2 { connections })
                .ok_or(format!("a set is h1 or h2xC (C connections), not {name:?}")),
        }
    }

    fn name(self) -> String {
        match self {
            Transport::H1 => "h1".to_owned(),
            Transport::H2 { connections } => format!("h2x{connections}"),
        }
    }
}

/// The receive windows the HTTP/2 client announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Window {
    /// 6 MiB per stream, 15 MiB per connection (Chromium's values).
    Browser,
    /// The protocol default: 64 KiB - 1 for both.
    H2Default,
}

struct LoadArgs {
    addr: SocketAddr,
    sets: Vec<Transport>,
    sockets: usize,
    size: usize,
    warmup: Duration,
    duration: Duration,
    slice: Duration,
    window: Window,
    server_pid: Option<u32>,
}

impl LoadArgs {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut load = LoadArgs {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            sets: vec![Transport::H1, Transport::H2 { connections: 1 }],
            sockets: 10,
            size: 20,
            warmup: Duration::from_millis(500),
            duration: Duration::from_millis(2000),
            slice: Duration::from_millis(250),
            window: Window::Browser,
            server_pid: None,
        };
        let mut addr = None;
        while let Some(arg) = args.next() {
            let value = args.next().ok_or(format!("{arg} needs a value"))?;
            let number = || value.parse::<u64>().map_err(|e| format!("{value:?}: {e}"));
            match arg.as_str() {
                "--addr" => addr = Some(value.parse().map_err(|e| format!("{value:?}: {e}"))?),
                "--sets" => {
                    load.sets = value
                        .split(',')
                        .map(Transport::parse)
                        .collect::<Result<_, _>>()?
                }
                "--sockets" => load.sockets = number()?.max(1) as usize,
                "--size" => load.size = number()? as usize,
                "--warmup-ms" => load.warmup = Duration::from_millis(number()?),
                "--duration-ms" => load.duration = Duration::from_millis(number()?),
                "--slice-ms" => load.slice = Duration::from_millis(number()?.max(1)),
                "--window" => {
                    load.window = match value.as_str() {
                        "browser" => Window::Browser,
                        "h2-default" => Window::H2Default,
                        _ => return Err(format!("--window browser|h2-default, not {value:?}")),
                    }
                }
                "--server-pid" => load.server_pid = Some(number()? as u32),
                _ => return Err(format!("unknown argument {arg:?}\n{USAGE}")),
            }
        }
        load.addr = addr.ok_or(format!("--addr is required\n{USAGE}"))?;
        Ok(load)
    }
}

/// The WebSocket's byte stream: a TCP connection after `101` (HTTP/1.1),
/// or one HTTP/2 stream.
enum Socket {
    H1(WebSocket<pushwire::ws::ClientStream>),
    H2(WebSocket<Http2Stream>),
}

impl Socket {
    async fn echo(&mut self, message: Message) -> Result<Message, String> {
        async fn round_trip<S: AsyncRead + AsyncWrite + Unpin>(
            ws: &mut WebSocket<S>,
            message: Message,
        ) -> Result<Message, String> {
            ws.send(message).await.map_err(|e| e.to_string())?;
            loop {
                match ws.recv().await {
                    Some(Ok(reply)) if reply.is_data() => return Ok(reply),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e.to_string()),
                    None => return Err("the server closed the WebSocket".to_owned()),
                }
            }
        }
        match self {
            Socket::H1(ws) => round_trip(ws, message).await,
            Socket::H2(ws) => round_trip(ws, message).await,
        }
    }
}

/// How much one read of an h2 client connection may take.
const READ_CHUNK: usize = 32 << 10;

/// WebSocket settings for the generator: no permessage-deflate offered.
fn client_config() -> WebSocketConfig {
    WebSocketConfig::default().deflate(None)
}

async fn open_sockets(load: &LoadArgs, transport: Transport) -> Result<Vec<Socket>, String> {
    let mut sockets = Vec::with_capacity(load.sockets);
    match transport {
        Transport::H1 => {
            let url = format!("ws://{}/echo", load.addr);
            for _ in 0..load.sockets {
                let ws = ClientBuilder::new(url.clone())
                    .config(client_config())
                    .connect()
                    .await
                    .map_err(|e| format!("h1 connect: {e}"))?;
                sockets.push(Socket::H1(ws));
            }
        }
        Transport::H2 { connections } => {
            let mut clients = Vec::with_capacity(connections);
            for _ in 0..connections.min(load.sockets) {
                clients.push(h2_connection(load.addr, load.window).await?);
            }
            let count = clients.len();
            for i in 0..load.sockets {
                let client = &mut clients[i % count];
                sockets.push(Socket::H2(h2_websocket(client).await?));
            }
        }
    }
    Ok(sockets)
}

/// An h2c connection by prior knowledge, once the server's SETTINGS
/// (with SETTINGS_ENABLE_CONNECT_PROTOCOL) have arrived.
async fn h2_connection(addr: SocketAddr, window: Window) -> Result<SendRequest<Bytes>, String> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    // Reads of up to 32 KiB, as a browser's network stack makes and as
    // pushwire's server and HTTP/1.1 client do: h2 alone reads into a
    // buffer of 8 KiB, a 16 KiB message then costing three `recvfrom`s
    // where the HTTP/1.1 client makes one.
    let tcp = BufReader::with_capacity(READ_CHUNK, tcp);
    let mut builder = h2::client::Builder::new();
    if window == Window::Browser {
        builder
            .initial_window_size(6 << 20)
            .initial_connection_window_size(15 << 20);
    }
    let (client, connection) = builder
        .handshake::<_, Bytes>(tcp)
        .await
        .map_err(|e| format!("h2 handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut client = client.ready().await.map_err(|e| e.to_string())?;
    // A first request makes sure the server's SETTINGS have been applied.
    let request = Request::get(format!("http://{addr}/healthz"))
        .body(())
        .map_err(|e| e.to_string())?;
    let (response, _) = client
        .send_request(request, true)
        .map_err(|e| e.to_string())?;
    let response = response.await.map_err(|e| format!("GET /healthz: {e}"))?;
    if response.status() != StatusCode::OK {
        return Err(format!("GET /healthz: {}", response.status()));
    }
    if !client.is_extended_connect_protocol_enabled() {
        return Err("the server did not send SETTINGS_ENABLE_CONNECT_PROTOCOL".to_owned());
    }
    Ok(client)
}

/// Opens a WebSocket by extended CONNECT (`:protocol = websocket`).
async fn h2_websocket(client: &mut SendRequest<Bytes>) -> Result<WebSocket<Http2Stream>, String> {
    let request = Request::builder()
        .method(Method::CONNECT)
        .uri("http://localhost/echo")
        .extension(h2::ext::Protocol::from_static("websocket"))
        .header("sec-websocket-version", "13")
        .body(())
        .map_err(|e| e.to_string())?;
    let mut client = client.clone().ready().await.map_err(|e| e.to_string())?;
    let (response, send) = client
        .send_request(request, false)
        .map_err(|e| format!("extended CONNECT: {e}"))?;
    let response = response
        .await
        .map_err(|e| format!("extended CONNECT: {e}"))?;
    if response.status() != StatusCode::OK {
        return Err(format!("extended CONNECT: {}", response.status()));
    }
    let negotiated = Negotiated {
        protocol: None,
        deflate: None,
    };
    Ok(WebSocket::from_http2(
        Http2Stream::new(send, response.into_body()),
        Role::Client,
        &client_config(),
        negotiated,
    ))
}

/// CPU time a process has used, in clock ticks (utime + stime of
/// `/proc/PID/stat`; Linux reports them in units of 1/100 s).
fn cpu_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: count fields after its ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// A moment of the measurement: echoes so far, and CPU ticks used.
struct Mark {
    at: Instant,
    echoes: u64,
    server_ticks: Option<u64>,
    client_ticks: Option<u64>,
}

impl Mark {
    fn now(echoes: &AtomicU64, server_pid: Option<u32>) -> Mark {
        Mark {
            at: Instant::now(),
            echoes: echoes.load(Ordering::Relaxed),
            server_ticks: server_pid.and_then(|pid| cpu_ticks(&pid.to_string())),
            client_ticks: cpu_ticks("self"),
        }
    }
}

/// A sum of CPU ticks plus those between two readings; unknown once a
/// reading failed.
fn add_ticks(sum: Option<u64>, start: Option<u64>, end: Option<u64>) -> Option<u64> {
    Some(sum? + end? - start?)
}

/// Whether a set's WebSockets send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Waiting,
    Running,
    Done,
}

/// One set of WebSockets and what its turns measured.
struct Set {
    transport: Transport,
    phase: watch::Sender<Phase>,
    echoes: Arc<AtomicU64>,
    messages: u64,
    secs: f64,
    server_ticks: Option<u64>,
    client_ticks: Option<u64>,
}

impl Set {
    /// Starts a closed loop on each of `sockets`, sending only while the
    /// set is running.
    fn start(
        transport: Transport,
        sockets: Vec<Socket>,
        size: usize,
        tasks: &mut JoinSet<Result<(), String>>,
    ) -> Set {
        let (phase, _) = watch::channel(Phase::Waiting);
        let echoes = Arc::new(AtomicU64::new(0));
        let payload = Bytes::from(vec![0x5a; size]);
        for mut socket in sockets {
            let (mut phase, echoes, payload) = (phase.subscribe(), echoes.clone(), payload.clone());
            tasks.spawn(async move {
                loop {
                    let now = *phase.borrow_and_update();
                    match now {
                        Phase::Done => return Ok(()),
                        Phase::Waiting => {
                            phase.changed().await.map_err(|e| e.to_string())?;
                            continue;
                        }
                        Phase::Running => {}
                    }
                    let reply = socket.echo(Message::binary(payload.clone())).await?;
                    if reply.len() != payload.len() {
                        return Err(format!(
                            "echo of {} bytes came back as {}",
                            payload.len(),
                            reply.len()
                        ));
                    }
                    echoes.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        Set {
            transport,
            phase,
            echoes,
            messages: 0,
            secs: 0.0,
            server_ticks: Some(0),
            client_ticks: Some(0),
        }
    }

    /// Runs the set alone for `length`, after the settling time; adds
    /// what it did to its totals when `measured`.
    async fn turn(&mut self, length: Duration, measured: bool, server_pid: Option<u32>) {
        self.phase.send_replace(Phase::Running);
        tokio::time::sleep(SETTLE).await;
        let start = Mark::now(&self.echoes, server_pid);
        tokio::time::sleep(length).await;
        let end = Mark::now(&self.echoes, server_pid);
        self.phase.send_replace(Phase::Waiting);
        if measured {
            self.messages += end.echoes - start.echoes;
            self.secs += (end.at - start.at).as_secs_f64();
            self.server_ticks = add_ticks(self.server_ticks, start.server_ticks, end.server_ticks);
            self.client_ticks = add_ticks(self.client_ticks, start.client_ticks, end.client_ticks);
        }
    }

    /// The set's totals as one JSON line.
    fn report(&self, load: &LoadArgs) -> String {
        // 10 ms a tick; reported as µs of CPU per echoed message.
        let per_message = |ticks: Option<u64>| match ticks {
            Some(ticks) if self.messages > 0 => {
                format!("{:.3}", ticks as f64 * 1e4 / self.messages as f64)
            }
            _ => "null".to_owned(),
        };
        format!(
            "{{\"set\":\"{}\",\"sockets\":{},\"size\":{},\"messages\":{},\"secs\":{:.3},\"msgs_per_sec\":{:.1},\"server_cpu_us_per_msg\":{},\"client_cpu_us_per_msg\":{}}}",
            self.transport.name(),
            load.sockets,
            load.size,
            self.messages,
            self.secs,
            self.messages as f64 / self.secs.max(f64::MIN_POSITIVE),
            per_message(self.server_ticks),
            per_message(self.client_ticks),
        )
    }
}

async fn run_load(load: LoadArgs) -> Result<(), String> {
    let mut tasks = JoinSet::new();
    let mut sets = Vec::with_capacity(load.sets.len());
    for &transport in &load.sets {
        let sockets = open_sockets(&load, transport).await?;
        sets.push(Set::start(transport, sockets, load.size, &mut tasks));
    }
    for set in &mut sets {
        set.turn(load.warmup, false, load.server_pid).await;
    }
    let turns = (load.duration.as_secs_f64() / load.slice.as_secs_f64()).ceil() as u32;
    for _ in 0..turns.max(1) {
        for set in &mut sets {
            set.turn(load.slice, true, load.server_pid).await;
        }
    }
    for set in &sets {
        set.phase.send_replace(Phase::Done);
    }
    while let Some(result) = tasks.join_next().await {
        result.map_err(|e| e.to_string())??;
    }
    for set in &sets {
        println!("{}", set.report(&load));
    }
    Ok(())
}
