//! Known attacks on the WebSocket path, each a regression test that
//! asserts the close code the server answers with and bounds the memory
//! the attack makes it hold.
//!
//! The attacked server runs in a child process (this test binary, running
//! only [`attack_server`]), so that its memory can be read from
//! `/proc/<pid>/status` free of the other tests this process runs at the
//! same time. Its timeouts are short, so the whole file takes seconds.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pushwire::proto::ws::deflate::Deflater;

use pushwire::{accept, WebSocketConfig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

use crate::common::http1::read_head;
use crate::common::ws::echo;
use crate::common::LIMIT;

/// Set in the child's environment: [`attack_server`] serves only then.
const SERVER_ENV: &str = "PUSHWIRE_WS_ATTACK_SERVER";

/// The most the server's resident memory may grow under one attack on
/// one connection: the attacks below would make it hold from 64 MiB to
/// 1 GiB without their limits, and about 1 MiB with them.
const MEMORY_BOUND: u64 = 16 << 20;

/// How long the attacked server lets a message take.
const MESSAGE_TIMEOUT: Duration = Duration::from_millis(500);
/// The attacked server's silence before a ping, and wait for its answer.
const PING_INTERVAL: Duration = Duration::from_millis(300);
const PONG_TIMEOUT: Duration = Duration::from_millis(300);

/// The attacked server's settings: the default limits, permessage-deflate
/// on, and timeouts short enough for a test.
fn server_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .message_timeout(Some(MESSAGE_TIMEOUT))
        .ping_interval(Some(PING_INTERVAL))
        .pong_timeout(PONG_TIMEOUT)
}

/// The attacked server, when run as the child process: an echo server
/// on 127.0.0.1 with [`server_config`], which prints its address and
/// serves until its standard input closes (when the test that started
/// it ends, however it ends).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run as a child process by the tests of this file"]
async fn attack_server() {
    if std::env::var_os(SERVER_ENV).is_none() {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("listening on {}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let config = server_config();
        while let Ok((tcp, _)) = listener.accept().await {
            let config = config.clone();
            tokio::spawn(async move {
                if let Ok((ws, _)) = accept(tcp, &config, &[]).await {
                    echo(ws).await;
                }
            });
        }
    });
    tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink()))
        .await
        .unwrap()
        .unwrap();
}

/// The attacked server in its child process; killed when dropped.
struct AttackServer {
    child: Child,
    addr: String,
}

impl AttackServer {
    async fn start() -> AttackServer {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "ws_attacks::attack_server", "--ignored"])
            .args(["--nocapture", "--test-threads=1", "--quiet"])
            .env(SERVER_ENV, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let find_addr = tokio::task::spawn_blocking(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .find_map(|line| line.strip_prefix("listening on ").map(str::to_owned))
        });
        // Killed on the way out, should the address not come.
        let mut server = AttackServer {
            child,
            addr: String::new(),
        };
        let addr = timeout(LIMIT, find_addr).await.unwrap().unwrap();
        server.addr = addr.expect("the attack server prints its address");
        server
    }

    /// The server's resident memory now and its peak, in bytes.
    fn memory(&self) -> Memory {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let field = |name: &str| -> u64 {
            let line = status.lines().find(|l| l.starts_with(name)).unwrap();
            let kib: u64 = line[name.len()..]
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .unwrap();
            kib << 10
        };
        Memory {
            resident: field("VmRSS:"),
            peak: field("VmHWM:"),
        }
    }

    /// A connection that has finished a round trip, compressed with
    /// `extension` as [`AttackServer::connect`] offers it; the server has
    /// then allocated what every connection of its kind needs (its
    /// threads' compressors included). Returns the memory after it.
    async fn warmed_up(&self, extension: Option<&str>) -> Memory {
        let mut tcp = self.connect(extension).await;
        tcp.write_all(&masked(0x81, b"warm up")).await.unwrap();
        let (opcode, payload) = read_frame(&mut tcp).await.unwrap();
        assert_eq!(opcode & 0x0f, 0x1, "{payload:x?}");
        drop(tcp);
        self.memory()
    }

    /// Opens a TCP connection and completes the handshake by hand,
    /// offering `extension` (a `Sec-WebSocket-Extensions` value), which
    /// the server must accept.
    async fn connect(&self, extension: Option<&str>) -> TcpStream {
        let mut tcp = TcpStream::connect(&self.addr).await.unwrap();
        let offer = extension.map_or(String::new(), |e| {
            format!("Sec-WebSocket-Extensions: {e}\r\n")
        });
        let request = format!(
            "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             {offer}\r\n"
        );
        tcp.write_all(request.as_bytes()).await.unwrap();
        let head = read_head(&mut tcp).await;
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        let accepted = head.contains("Sec-WebSocket-Extensions: permessage-deflate");
        assert_eq!(accepted, extension.is_some(), "{head}");
        tcp
    }
}

impl Drop for AttackServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory of the attacked server, in bytes.
#[derive(Debug, Clone, Copy)]
struct Memory {
    resident: u64,
    peak: u64,
}

impl Memory {
    /// How far the peak since `before` rose above what was resident then
    /// (an upper bound on what the attack made the server hold).
    fn growth_since(self, before: Memory) -> u64 {
        self.peak.saturating_sub(before.resident)
    }
}

/// Checks the server's memory after an attack against `bound`, and
/// prints the figure.
fn assert_bounded(attack: &str, server: &AttackServer, before: Memory, bound: u64) {
    let growth = server.memory().growth_since(before);
    eprintln!(
        "{attack}: server peak {:.1} MiB above its resident size before the attack",
        growth as f64 / (1 << 20) as f64
    );
    assert!(
        growth < bound,
        "{attack}: the server grew by {:.1} MiB",
        growth as f64 / (1 << 20) as f64
    );
}

/// A client frame with this first byte and payload, masked, its length in
/// the fewest bytes.
fn masked(first_byte: u8, payload: &[u8]) -> Vec<u8> {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut out = frame_header(first_byte, payload.len() as u64, key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

/// A masked client frame's header, declaring `len` bytes of payload.
fn frame_header(first_byte: u8, len: u64, key: [u8; 4]) -> Vec<u8> {
    let mut out = vec![first_byte];
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= u16::MAX as u64 {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&len.to_be_bytes());
    }
    out.extend_from_slice(&key);
    out
}

/// Reads one (unmasked) server frame: its first byte and payload; `None`
/// once the connection has ended.
async fn read_frame<R: AsyncRead + Unpin>(tcp: &mut R) -> Option<(u8, Vec<u8>)> {
    let read = async {
        let mut head = [0u8; 2];
        tcp.read_exact(&mut head).await.ok()?;
        let len = match head[1] & 0x7f {
            126 => tcp.read_u16().await.ok()? as usize,
            127 => tcp.read_u64().await.ok()? as usize,
            short => short as usize,
        };
        let mut payload = vec![0; len];
        tcp.read_exact(&mut payload).await.ok()?;
        Some((head[0], payload))
    };
    timeout(LIMIT, read)
        .await
        .expect("the server answers in time")
}

/// Reads server frames until its close frame and returns its code; then
/// checks that the server ended the connection. Pings and echoed
/// messages on the way are skipped.
async fn expect_close<R: AsyncRead + Unpin>(tcp: &mut R) -> u16 {
    loop {
        let Some((first, payload)) = read_frame(tcp).await else {
            panic!("the connection ended without a close frame");
        };
        if first & 0x0f == 0x8 {
            // The server closes the connection: the end of the stream, or
            // a reset when it left unread what the attack still sent.
            let mut rest = [0u8; 1024];
            let ended = timeout(LIMIT, async {
                while let Ok(1..) = tcp.read(&mut rest).await {}
            });
            ended.await.expect("the server closes the connection");
            return u16::from_be_bytes([payload[0], payload[1]]);
        }
    }
}

/// permessage-deflate's trailer, which every compressed piece but a
/// message's last keeps (RFC 7692 section 7.2.1).
const SYNC_TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// A deflate bomb in 1 KiB pieces, each of which inflates to 1 MiB of
/// zeros: the first, and the one every later piece repeats (deflate tops
/// out at about 1032:1, so 1 GiB takes 1,024 such pieces, 1 MiB on the
/// wire). Each ends with the sync trailer.
fn bomb_pieces() -> (Vec<u8>, Vec<u8>) {
    let mut deflater = Deflater::new(9, 15, false);
    let zeros = vec![0u8; 1 << 20];
    let first = [&deflater.compress(&zeros)[..], &SYNC_TRAILER].concat();
    let next = [&deflater.compress(&zeros)[..], &SYNC_TRAILER].concat();
    assert!(
        first.len() < 1100 && next.len() < 1100,
        "{} {}",
        first.len(),
        next.len()
    );
    (first, next)
}

/// A frame that declares a payload of 2^63 bytes (the most significant
/// bit of the 64-bit length set, which RFC 6455 forbids) is refused with
/// 1002 at its header; one of 2^63 - 1 bytes, over the frame size limit,
/// with 1009. Neither makes the server reserve room for the payload.
#[tokio::test]
async fn a_frame_declaring_a_2_pow_63_byte_payload() {
    let server = AttackServer::start().await;
    let before = server.warmed_up(None).await;
    for (declared, code) in [(1u64 << 63, 1002), ((1u64 << 63) - 1, 1009)] {
        let mut tcp = server.connect(None).await;
        let mut header = frame_header(0x82, 0, [1, 2, 3, 4]);
        header[1] = 0x80 | 127;
        header.splice(2..2, declared.to_be_bytes());
        tcp.write_all(&header).await.unwrap();
        tcp.write_all(&[0u8; 4096]).await.unwrap();
        assert_eq!(expect_close(&mut tcp).await, code, "{declared:#x}");
    }
    assert_bounded("2^63-byte payload", &server, before, MEMORY_BOUND);
}

/// A payload length not in the fewest bytes (RFC 6455 section 5.2: "the
/// minimal number of bytes MUST be used") gets 1002: the 16-bit form for
/// 5 bytes, the 64-bit form for 5 and for 65,535.
#[tokio::test]
async fn a_payload_length_not_in_the_fewest_bytes() {
    let server = AttackServer::start().await;
    let key = [1, 2, 3, 4];
    let cases: [(&[u8], usize); 3] = [
        (&[0x82, 0x80 | 126, 0, 5], 5),
        (&[0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 5], 5),
        (&[0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0xff, 0xff], 65535),
    ];
    for (header, len) in cases {
        let mut tcp = server.connect(None).await;
        let frame = [header, &key, &vec![0u8; len]].concat();
        tcp.write_all(&frame).await.unwrap();
        assert_eq!(expect_close(&mut tcp).await, 1002, "{header:x?}");
    }
}

/// 131,072 one-byte fragments of one message: the server stops reading
/// them at `max_fragments` (100,000) and closes with 1009.
#[tokio::test]
async fn one_message_in_131072_one_byte_fragments() {
    let server = AttackServer::start().await;
    let before = server.warmed_up(None).await;
    let mut wire = masked(0x02, b"x");
    for _ in 2..131_072 {
        wire.extend_from_slice(&masked(0x00, b"x"));
    }
    wire.extend_from_slice(&masked(0x80, b"x"));
    let (mut read, mut write) = server.connect(None).await.into_split();
    let start = Instant::now();
    // The server stops reading partway: what is left may not be taken.
    let sending = tokio::spawn(async move { write.write_all(&wire).await });
    assert_eq!(expect_close(&mut read).await, 1009);
    eprintln!("131,072 fragments: closed in {:?}", start.elapsed());
    sending.abort();
    assert_bounded("131,072 fragments", &server, before, MEMORY_BOUND);
}

/// A deflate bomb that would inflate to 1 GiB, sent as one message of
/// 1,024 compressed fragments of 1 KiB: the server inflates no more than
/// `max_message_size` (1 MiB) of it and closes with 1009 at the second
/// fragment. The same as one frame of two pieces (2 KiB for 2 MiB) stops
/// there too.
#[tokio::test]
async fn a_deflate_bomb_of_1_gib() {
    let server = AttackServer::start().await;
    let offer = Some("permessage-deflate");
    let before = server.warmed_up(offer).await;
    let (first, next) = bomb_pieces();

    let mut wire = masked(0x42, &first);
    let next_fragment = masked(0x00, &next);
    for _ in 2..1024 {
        wire.extend_from_slice(&next_fragment);
    }
    wire.extend_from_slice(&masked(0x80, &next[..next.len() - 4]));
    let (mut read, mut write) = server.connect(offer).await.into_split();
    let start = Instant::now();
    let sending = tokio::spawn(async move { write.write_all(&wire).await });
    assert_eq!(expect_close(&mut read).await, 1009);
    eprintln!("1 GiB deflate bomb: closed in {:?}", start.elapsed());
    sending.abort();

    let one_frame = [&first[..], &next[..next.len() - 4]].concat();
    let mut tcp = server.connect(offer).await;
    tcp.write_all(&masked(0xc2, &one_frame)).await.unwrap();
    assert_eq!(expect_close(&mut tcp).await, 1009);
    assert_bounded("1 GiB deflate bomb", &server, before, MEMORY_BOUND);
}

/// Messages that never finish: on 8 connections, a compressed first
/// fragment of 1 KiB that inflates to 1 MiB and no more fragments, while
/// the client keeps pinging (so the connection is not idle); on another,
/// a frame whose payload stops short. Each is closed with 1008 once the
/// message timeout has passed, which frees what it held.
#[tokio::test]
async fn fragments_that_never_finish() {
    let server = AttackServer::start().await;
    let offer = Some("permessage-deflate");
    let before = server.warmed_up(offer).await;
    let (first, _) = bomb_pieces();
    let start = Instant::now();
    let mut attackers = Vec::new();
    for n in 0..9 {
        let (mut read, mut write) = server.connect(offer).await.into_split();
        let opening = if n < 8 {
            masked(0x42, &first)
        } else {
            masked(0x82, &[7; 1000])[..200].to_vec()
        };
        write.write_all(&opening).await.unwrap();
        let pinging = tokio::spawn(async move {
            loop {
                tokio::time::sleep(MESSAGE_TIMEOUT / 5).await;
                if n < 8 && write.write_all(&masked(0x89, b"")).await.is_err() {
                    break;
                }
            }
        });
        attackers.push(tokio::spawn(async move {
            let code = expect_close(&mut read).await;
            pinging.abort();
            code
        }));
    }
    for attacker in attackers {
        assert_eq!(attacker.await.unwrap(), 1008);
    }
    let elapsed = start.elapsed();
    eprintln!("never-finished messages: closed after {elapsed:?}");
    assert!(elapsed >= MESSAGE_TIMEOUT, "closed after {elapsed:?}");
    // 8 connections at the limit: 8 MiB held until the timeout.
    assert_bounded("never-finished messages", &server, before, 2 * MEMORY_BOUND);
}

/// Connections that never answer the server's pings (nor send anything):
/// each is pinged after the ping interval, and closed with 1001 once the
/// pong timeout has passed too.
#[tokio::test]
async fn idle_connections_that_never_answer_pings() {
    let server = AttackServer::start().await;
    let before = server.warmed_up(None).await;
    let start = Instant::now();
    let mut idle = Vec::new();
    for _ in 0..50 {
        let mut tcp = server.connect(None).await;
        idle.push(tokio::spawn(async move {
            let (first, _) = read_frame(&mut tcp).await.expect("a ping");
            assert_eq!(first, 0x89, "a ping first");
            expect_close(&mut tcp).await
        }));
    }
    for connection in idle {
        assert_eq!(connection.await.unwrap(), 1001);
    }
    let elapsed = start.elapsed();
    eprintln!("idle connections: closed after {elapsed:?}");
    assert!(
        elapsed >= PING_INTERVAL + PONG_TIMEOUT,
        "closed after {elapsed:?}"
    );
    assert_bounded("idle connections", &server, before, MEMORY_BOUND);
}

/// Many connections that each send one small compressed message in two
/// fragments, then stay: without context takeover, inflating a message
/// in pieces needs a zlib state of the connection's own (tens of KiB with
/// its window), which is released once the message is whole, so the
/// connections hold no more than idle ones.
#[tokio::test]
async fn fragmented_compressed_messages_leave_no_inflate_state() {
    const CONNECTIONS: u64 = 200;
    let server = AttackServer::start().await;
    let offer = Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover");
    let before = server.warmed_up(offer).await;
    let text = b"fragmented and compressed ".repeat(8);
    let packed = Deflater::new(1, 15, true).compress(&text);
    let (a, b) = packed.split_at(packed.len() / 2);
    let message = [masked(0x41, a), masked(0x80, b)].concat();
    let mut held = Vec::new();
    for _ in 0..CONNECTIONS {
        let mut tcp = server.connect(offer).await;
        tcp.write_all(&message).await.unwrap();
        let (first, _) = read_frame(&mut tcp).await.expect("the echo");
        assert_eq!(first, 0xc1, "a compressed text message");
        held.push(tcp);
    }
    let growth = server.memory().growth_since(before);
    eprintln!(
        "{CONNECTIONS} connections after a fragmented compressed message: {} B each",
        growth / CONNECTIONS
    );
    assert!(
        growth / CONNECTIONS < 16 << 10,
        "{} B each",
        growth / CONNECTIONS
    );
}
