//! Measures the memory a `pushwire echo` server holds per idle WebSocket
//! connection: the server's RSS before and after N connections that
//! complete the handshake and then stay idle.
//!
//! ```text
//! idle_memory --server-bin target/release/pushwire --connections 10000 [--deflate] [--json]
//! ```
//!
//! The server runs as a child process (`PATH echo --listen 127.0.0.1:PORT`).
//! After a warm-up connection, its VmRSS and RssAnon are read from
//! `/proc/PID/status`; then N connections are opened (at most
//! `--concurrency` at a time) from client addresses 127.0.0.2, 127.0.0.3,
//! ... (`--per-ip` connections each) and left idle, and after
//! `--settle-ms` the RSS is read again ("idle"). Unless `--no-echo`, each
//! connection then sends one text message and awaits its echo, so the
//! server allocates (and should release) its per-message buffers and, with
//! deflate, its codecs; after another settle the RSS is read a third time
//! ("echoed"). Kernel socket buffers are not part of RSS, so the deltas are
//! the server's user-space memory per connection.
//!
//! `--deflate` makes the client offer permessage-deflate (the echo server
//! accepts it); by default the client offers nothing. `--child-env K=V`
//! sets a variable for the server only (e.g. `MALLOC_ARENA_MAX=2`), and
//! `--server-arg ARG` passes an extra argument to `echo`.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pushwire::proto::bytes::BytesMut;
use pushwire::proto::deflate::DeflateConfig;
use pushwire::proto::handshake::{generate_key, parse_response, ClientRequest};
use pushwire::proto::Role;
use pushwire::ws::Negotiated;
use pushwire::{Message, WebSocket, WebSocketConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;

type Ws = WebSocket<TcpStream>;

struct Args {
    server_bin: String,
    connections: usize,
    deflate: bool,
    json: bool,
    concurrency: usize,
    per_ip: usize,
    settle: Duration,
    echo: bool,
    payload: usize,
    deadline: Duration,
    hold: Duration,
    child_env: Vec<(String, String)>,
    server_args: Vec<String>,
    sizes: bool,
}

const USAGE: &str = "usage: idle_memory --server-bin PATH [--connections N] [--deflate] [--json]
  [--concurrency C=200] [--per-ip K=1000] [--settle-ms MS=2000] [--no-echo]
  [--payload BYTES=64] [--deadline-secs S=55] [--hold-secs S=0]
  [--child-env KEY=VALUE]... [--server-arg ARG]... [--sizes]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        server_bin: String::new(),
        connections: 1000,
        deflate: false,
        json: false,
        concurrency: 200,
        per_ip: 1000,
        settle: Duration::from_millis(2000),
        echo: true,
        payload: 64,
        deadline: Duration::from_secs(55),
        hold: Duration::ZERO,
        child_env: Vec::new(),
        server_args: Vec::new(),
        sizes: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        let number = |s: String| s.parse::<u64>().map_err(|e| format!("{s:?}: {e}"));
        match arg.as_str() {
            "--server-bin" => args.server_bin = value(&arg)?,
            "--connections" => args.connections = number(value(&arg)?)? as usize,
            "--deflate" => args.deflate = true,
            "--json" => args.json = true,
            "--concurrency" => args.concurrency = number(value(&arg)?)?.max(1) as usize,
            "--per-ip" => args.per_ip = number(value(&arg)?)?.max(1) as usize,
            "--settle-ms" => args.settle = Duration::from_millis(number(value(&arg)?)?),
            "--no-echo" => args.echo = false,
            "--payload" => args.payload = number(value(&arg)?)? as usize,
            "--deadline-secs" => args.deadline = Duration::from_secs(number(value(&arg)?)?),
            "--hold-secs" => args.hold = Duration::from_secs(number(value(&arg)?)?),
            "--child-env" => {
                let kv = value(&arg)?;
                let (k, v) = kv
                    .split_once('=')
                    .ok_or(format!("{kv:?}: want KEY=VALUE"))?;
                args.child_env.push((k.to_owned(), v.to_owned()));
            }
            "--server-arg" => args.server_args.push(value(&arg)?),
            "--sizes" => args.sizes = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if args.server_bin.is_empty() && !args.sizes {
        return Err(format!("--server-bin is required\n{USAGE}"));
    }
    // Ports 127.0.0.2 .. 127.0.0.254.
    if args.connections.div_ceil(args.per_ip) > 253 {
        return Err("too many connections for --per-ip: raise it".to_owned());
    }
    Ok(args)
}

/// The server child, killed and reaped when dropped (also on error paths).
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Rss {
    rss_kib: u64,
    anon_kib: u64,
}

fn read_rss(pid: u32) -> Result<Rss, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("reading /proc/{pid}/status: {e}"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
    };
    Ok(Rss {
        rss_kib: field("VmRSS:").ok_or("no VmRSS")?,
        anon_kib: field("RssAnon:").unwrap_or(0),
    })
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

async fn start_server(args: &Args) -> Result<Server, String> {
    let port = free_port()?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut cmd = Command::new(&args.server_bin);
    cmd.arg("echo")
        .arg("--listen")
        .arg(addr.to_string())
        .args(&args.server_args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    for (k, v) in &args.child_env {
        cmd.env(k, v);
    }
    let child = cmd
        .spawn()
        .map_err(|e| format!("spawning {}: {e}", args.server_bin))?;
    let mut server = Server { child, addr };
    let start = Instant::now();
    loop {
        if let Ok(tcp) = TcpStream::connect(addr).await {
            drop(tcp);
            return Ok(server);
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(format!("server exited early: {status}"));
        }
        if start.elapsed() > Duration::from_secs(10) {
            return Err("server did not accept within 10 s".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

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

fn client_config(deflate: bool) -> WebSocketConfig {
    WebSocketConfig::default().deflate(deflate.then(DeflateConfig::default))
}

/// Opens one connection from `local` and performs the client handshake
/// over that already connected stream.
async fn open(
    i: usize,
    local: Ipv4Addr,
    server: SocketAddr,
    config: &WebSocketConfig,
) -> Result<Ws, String> {
    let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
    socket
        .bind(SocketAddr::from((local, 0)))
        .map_err(|e| format!("bind {local}: {e}"))?;
    let mut tcp = socket
        .connect(server)
        .await
        .map_err(|e| format!("connect from {local}: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
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
async fn echo_once(ws: &mut Ws, payload: &str) -> Result<(), String> {
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
async fn open_all(args: &Args, server: SocketAddr) -> Result<Vec<Ws>, String> {
    let config = std::sync::Arc::new(client_config(args.deflate));
    let mut open_conns: Vec<Option<Ws>> = (0..args.connections).map(|_| None).collect();
    let mut tasks = JoinSet::new();
    let mut next = 0;
    let mut failures = Vec::new();
    while next < args.connections || !tasks.is_empty() {
        while next < args.connections && tasks.len() < args.concurrency {
            let i = next;
            next += 1;
            let octet = 2 + (i / args.per_ip) as u8;
            let local = Ipv4Addr::new(127, 0, 0, octet);
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
async fn echo_all(args: &Args, conns: Vec<Ws>) -> Result<Vec<Ws>, String> {
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

/// Sizes of the types and futures an idle server connection is made of.
/// (The `pushwire echo` task itself is checked by a unit test in the CLI
/// crate: it is the `WebSocket` plus a tag.)
fn print_sizes() {
    fn accept_size<'a, R, F>(_: &F) -> usize
    where
        F: FnOnce(TcpStream, &'a WebSocketConfig, &'a [&'a str]) -> R,
    {
        std::mem::size_of::<R>()
    }
    println!(
        "size_of WebSocket<TcpStream>          = {}",
        std::mem::size_of::<Ws>()
    );
    println!(
        "size_of TcpStream                     = {}",
        std::mem::size_of::<TcpStream>()
    );
    println!(
        "size_of WebSocketConfig               = {}",
        std::mem::size_of::<WebSocketConfig>()
    );
    println!(
        "size_of accept::<TcpStream> future    = {}",
        accept_size(&pushwire::accept::<TcpStream>)
    );
    println!(
        "size_of proto::handshake::RequestHead = {}",
        std::mem::size_of::<pushwire::proto::handshake::RequestHead>()
    );
    {
        let (io, _peer) = tokio::io::duplex(64);
        let config = WebSocketConfig::default();
        let mut ws = WebSocket::from_upgraded(
            io,
            Role::Server,
            &config,
            Negotiated::default(),
            BytesMut::new(),
        );
        let recv = std::mem::size_of_val(&ws.recv());
        let send = std::mem::size_of_val(&ws.send(Message::text("x")));
        println!("size_of WebSocket::recv() future      = {recv}");
        println!("size_of WebSocket::send() future      = {send}");
    }
    // Parts of the WebSocket struct (its private fields hold these).
    use pushwire::proto::deflate::{Deflater, Inflater};
    macro_rules! sizes {
        ($($t:ty),* $(,)?) => {$(
            println!("size_of {:<31} = {}", stringify!($t), std::mem::size_of::<$t>());
        )*};
    }
    sizes!(
        pushwire::proto::Receiver,
        pushwire::proto::Sender,
        pushwire::proto::Limits,
        Option<Inflater>,
        Option<Deflater>,
        Message,
        pushwire::Error,
        Option<Result<Message, pushwire::Error>>,
        Negotiated,
        BytesMut,
        tokio::time::Sleep,
    );
}

struct Report {
    deflate_negotiated: usize,
    baseline: Rss,
    idle: Rss,
    echoed: Option<Rss>,
    connect_secs: f64,
    total_secs: f64,
}

fn per_conn(after: Rss, before: Rss, n: usize) -> (f64, f64) {
    let d = |a: u64, b: u64| (a as f64 - b as f64) * 1024.0 / n.max(1) as f64;
    (
        d(after.rss_kib, before.rss_kib),
        d(after.anon_kib, before.anon_kib),
    )
}

async fn run(args: &Args) -> Result<Report, String> {
    let started = Instant::now();
    let server = start_server(args).await?;
    let pid = server.child.id();
    // Warm-up: one full connection, so one-time allocations (thread-locals,
    // first task, timer) are in the baseline.
    let config = client_config(args.deflate);
    let mut warm = open(usize::MAX >> 1, Ipv4Addr::LOCALHOST, server.addr, &config).await?;
    echo_once(&mut warm, "warm-up").await?;
    let _ = warm.close(None).await;
    drop(warm);
    tokio::time::sleep(args.settle.min(Duration::from_millis(500))).await;
    let baseline = read_rss(pid)?;

    let t = Instant::now();
    let conns = open_all(args, server.addr).await?;
    let connect_secs = t.elapsed().as_secs_f64();
    let deflate_negotiated = conns
        .iter()
        .filter(|ws| ws.negotiated().deflate.is_some())
        .count();
    tokio::time::sleep(args.settle).await;
    let idle = read_rss(pid)?;

    let (conns, echoed) = if args.echo {
        let conns = echo_all(args, conns).await?;
        tokio::time::sleep(args.settle).await;
        (conns, Some(read_rss(pid)?))
    } else {
        (conns, None)
    };
    if !args.hold.is_zero() {
        eprintln!(
            "holding {} connections to server pid {pid} for {:?}",
            conns.len(),
            args.hold
        );
        tokio::time::sleep(args.hold).await;
    }
    // Server first, so it does not spend time on 10k closes.
    drop(server);
    drop(conns);
    Ok(Report {
        deflate_negotiated,
        baseline,
        idle,
        echoed,
        connect_secs,
        total_secs: started.elapsed().as_secs_f64(),
    })
}

fn print_report(args: &Args, r: &Report) {
    let n = args.connections;
    let arena = args
        .child_env
        .iter()
        .find(|(k, _)| k == "MALLOC_ARENA_MAX")
        .map(|(_, v)| v.clone());
    let (idle_rss, idle_anon) = per_conn(r.idle, r.baseline, n);
    println!(
        "server {} echo, {n} idle connections ({} with deflate), client offers deflate: {}{}",
        args.server_bin,
        r.deflate_negotiated,
        args.deflate,
        arena
            .as_deref()
            .map(|a| format!(", MALLOC_ARENA_MAX={a}"))
            .unwrap_or_default()
    );
    println!(
        "  baseline            RSS {:>8} KiB  anon {:>8} KiB",
        r.baseline.rss_kib, r.baseline.anon_kib
    );
    println!(
        "  idle (handshake)    RSS {:>8} KiB  anon {:>8} KiB  -> {idle_rss:>7.0} B/conn RSS, {idle_anon:>7.0} B/conn anon",
        r.idle.rss_kib, r.idle.anon_kib
    );
    let mut echoed_json = "null".to_owned();
    let mut echoed_anon_json = "null".to_owned();
    if let Some(e) = r.echoed {
        let (rss, anon) = per_conn(e, r.baseline, n);
        println!(
            "  idle (after 1 echo) RSS {:>8} KiB  anon {:>8} KiB  -> {rss:>7.0} B/conn RSS, {anon:>7.0} B/conn anon",
            e.rss_kib, e.anon_kib
        );
        echoed_json = format!("{rss:.1}");
        echoed_anon_json = format!("{anon:.1}");
    }
    println!(
        "  connect {:.2} s, total {:.2} s",
        r.connect_secs, r.total_secs
    );
    if args.json {
        println!(
            "{{\"connections\":{n},\"client_offers_deflate\":{},\"deflate_negotiated\":{},\"malloc_arena_max\":{},\"baseline_rss_kib\":{},\"baseline_anon_kib\":{},\"idle_rss_kib\":{},\"idle_anon_kib\":{},\"idle_bytes_per_conn\":{idle_rss:.1},\"idle_anon_bytes_per_conn\":{idle_anon:.1},\"echoed_rss_kib\":{},\"echoed_bytes_per_conn\":{echoed_json},\"echoed_anon_bytes_per_conn\":{echoed_anon_json},\"connect_secs\":{:.3},\"total_secs\":{:.3}}}",
            args.deflate,
            r.deflate_negotiated,
            arena.map(|a| format!("\"{a}\"")).unwrap_or("null".to_owned()),
            r.baseline.rss_kib,
            r.baseline.anon_kib,
            r.idle.rss_kib,
            r.idle.anon_kib,
            r.echoed.map_or("null".to_owned(), |e| e.rss_kib.to_string()),
            r.connect_secs,
            r.total_secs,
        );
    }
}

fn main() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    if args.sizes {
        print_sizes();
        if args.server_bin.is_empty() {
            return std::process::ExitCode::SUCCESS;
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async {
        match tokio::time::timeout(args.deadline, run(&args)).await {
            Ok(result) => result,
            Err(_) => Err(format!("did not finish within {:?}", args.deadline)),
        }
    });
    match result {
        Ok(report) => {
            print_report(&args, &report);
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("idle_memory: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
