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

use pushwire::{accept, WebSocketConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

use crate::common::http1::read_head;
use crate::common::ws::echo;
use crate::common::LIMIT;

/// Set in the child's environment: [`attack_server`] serves only then.
const SERVER_ENV: &str = "PUSHWIRE_WS_ATTACK_SERVER";

/// The most the server's resident memory may grow under one attack: the
/// attacks below would make it hold from 64 MiB to 1 GiB without their
/// limits, and hold about 1 MiB per connection with them.
const MEMORY_BOUND: u64 = 16 << 20;

/// The attacked server's settings: the default limits, permessage-deflate
/// on, and timeouts short enough for a test.
fn server_config() -> WebSocketConfig {
    WebSocketConfig::default()
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

    /// A connection that has finished a round trip, with deflate when
    /// `deflate` is set; the server has then allocated what every
    /// connection of its kind needs (its threads' compressors included).
    async fn warmed_up(&self, deflate: bool) -> Memory {
        let mut tcp = self.connect(deflate).await;
        tcp.write_all(&masked(0x81, b"warm up")).await.unwrap();
        let (opcode, payload) = read_frame(&mut tcp).await.unwrap();
        assert_eq!(opcode & 0x0f, 0x1, "{payload:x?}");
        drop(tcp);
        self.memory()
    }

    /// Opens a TCP connection and completes the handshake by hand, with
    /// permessage-deflate (as the peer compresses, with context) when
    /// `deflate` is set.
    async fn connect(&self, deflate: bool) -> TcpStream {
        let mut tcp = TcpStream::connect(&self.addr).await.unwrap();
        let extension = if deflate {
            "Sec-WebSocket-Extensions: permessage-deflate\r\n"
        } else {
            ""
        };
        let request = format!(
            "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             {extension}\r\n"
        );
        tcp.write_all(request.as_bytes()).await.unwrap();
        let head = read_head(&mut tcp).await;
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        assert_eq!(head.contains("permessage-deflate"), deflate, "{head}");
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

/// Checks the server's memory after an attack, and prints the figure.
fn assert_bounded(attack: &str, server: &AttackServer, before: Memory) {
    let growth = server.memory().growth_since(before);
    eprintln!(
        "{attack}: server peak {:.1} MiB above its resident size before the attack",
        growth as f64 / (1 << 20) as f64
    );
    assert!(
        growth < MEMORY_BOUND,
        "{attack}: the server grew by {} MiB",
        growth >> 20
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
async fn read_frame(tcp: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
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

/// Reads server frames until its close frame and returns the close code
/// and how long that took; then checks that the server ended the
/// connection. Pings and echoed messages on the way are skipped.
async fn expect_close(tcp: &mut TcpStream) -> (u16, Duration) {
    let start = Instant::now();
    loop {
        let Some((first, payload)) = read_frame(tcp).await else {
            panic!("the connection ended without a close frame");
        };
        if first & 0x0f == 0x8 {
            let elapsed = start.elapsed();
            let code = u16::from_be_bytes([payload[0], payload[1]]);
            // The server closes the connection: the end of the stream, or
            // a reset when it left unread what the attack still sent.
            let mut rest = [0u8; 1024];
            let ended = timeout(LIMIT, async {
                while let Ok(n @ 1..) = tcp.read(&mut rest).await {
                    let _ = n;
                }
            });
            ended.await.expect("the server closes the connection");
            return (code, elapsed);
        }
    }
}

/// A frame that declares a payload of 2^63 bytes (the most significant
/// bit of the 64-bit length set, which RFC 6455 forbids) is refused with
/// 1002 at its header; one of 2^63 - 1 bytes, over the frame size limit,
/// with 1009. Neither makes the server reserve room for the payload.
#[tokio::test]
async fn a_frame_declaring_a_2_pow_63_byte_payload() {
    let server = AttackServer::start().await;
    let before = server.warmed_up(false).await;
    for (declared, code) in [(1u64 << 63, 1002), ((1u64 << 63) - 1, 1009)] {
        let mut tcp = server.connect(false).await;
        let mut header = frame_header(0x82, 0, [1, 2, 3, 4]);
        header[1] = 0x80 | 127;
        header.splice(2..2, declared.to_be_bytes());
        tcp.write_all(&header).await.unwrap();
        tcp.write_all(&[0u8; 4096]).await.unwrap();
        assert_eq!(expect_close(&mut tcp).await.0, code, "{declared:#x}");
    }
    assert_bounded("2^63-byte payload", &server, before);
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
        let mut tcp = server.connect(false).await;
        let frame = [header, &key, &vec![0u8; len]].concat();
        tcp.write_all(&frame).await.unwrap();
        assert_eq!(expect_close(&mut tcp).await.0, 1002, "{header:x?}");
    }
}
