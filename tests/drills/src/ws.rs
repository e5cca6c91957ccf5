//! A minimal WebSocket client (RFC 6455) on tokio, enough for the drills:
//! the upgrade, masked text frames out, whole messages in (continuations
//! joined), pings answered, and the close handshake observed step by step
//! so a drill can tell a clean close from a dropped connection.
//!
//! Written here rather than taken from a crate because the drills need
//! what a general client hides: stopping reading on purpose (a slow
//! consumer), binding each socket to a chosen loopback source address
//! (past one address's ephemeral ports), and seeing whether the server
//! finished the close handshake with a FIN after its close frame.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The largest message accepted (the hub's frames are far smaller).
const MAX_MESSAGE: usize = 16 << 20;

/// Opens a TCP connection from `source` (port chosen by the kernel).
/// With `rcvbuf`, the socket's receive buffer is set that small first
/// and its MSS to Ethernet's 1,460 bytes: a client that stops reading
/// then stops the server's writes about as soon as on a real network
/// (on loopback the MSS is 64 KiB, and the server's send buffer grows
/// with it to 4 MiB before the hub's queue is ever used).
pub async fn tcp(server: SocketAddr, source: IpAddr, rcvbuf: Option<u32>) -> io::Result<TcpStream> {
    let socket = match rcvbuf {
        Some(size) => {
            let raw = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
            raw.set_nonblocking(true)?;
            raw.set_recv_buffer_size(size as usize)?;
            raw.set_tcp_mss(1460)?;
            TcpSocket::from_std_stream(std::net::TcpStream::from(raw))
        }
        None => TcpSocket::new_v4()?,
    };
    socket.bind(SocketAddr::new(source, 0))?;
    let stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// What [`Ws::recv`] returns.
#[derive(Debug)]
pub enum Incoming {
    /// A whole text (or binary) message.
    Text(Vec<u8>),
    /// The server's close frame: code (1005 when absent) and reason.
    Close(u16, String),
}

/// One client WebSocket.
pub struct Ws {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    /// Fragments of a message not yet finished.
    partial: Vec<u8>,
}

impl Ws {
    /// Connects from `source` and upgrades at `path`; fails on any answer
    /// but `101`. With `rcvbuf`, the socket's receive buffer is that small.
    pub async fn connect_with(
        server: SocketAddr,
        source: IpAddr,
        path: &str,
        rcvbuf: Option<u32>,
    ) -> io::Result<Ws> {
        let mut stream = tcp(server, source, rcvbuf).await?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {server}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut buf = Vec::with_capacity(4096);
        let head_end = loop {
            let mut chunk = [0u8; 2048];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed during upgrade",
                ));
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > 16 << 10 {
                return Err(io::Error::other("response head too long"));
            }
        };
        if !buf.starts_with(b"HTTP/1.1 101") {
            let line = String::from_utf8_lossy(&buf[..buf.len().min(40)]).into_owned();
            return Err(io::Error::other(format!("upgrade refused: {line}")));
        }
        buf.drain(..head_end);
        Ok(Ws {
            stream,
            buf,
            start: 0,
            partial: Vec::new(),
        })
    }

    /// Sends one masked frame.
    async fn send_frame(&mut self, opcode: u8, payload: &[u8]) -> io::Result<()> {
        let mut frame = Vec::with_capacity(payload.len() + 14);
        frame.push(0x80 | opcode);
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= 0xffff => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        let mask: [u8; 4] = fastrand::u32(..).to_be_bytes();
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
        self.stream.write_all(&frame).await
    }

    /// Sends a text message.
    pub async fn send_text(&mut self, text: &str) -> io::Result<()> {
        self.send_frame(0x1, text.as_bytes()).await
    }

    /// Sends a close frame with `code` (the reply to the server's close).
    pub async fn send_close(&mut self, code: u16) -> io::Result<()> {
        self.send_frame(0x8, &code.to_be_bytes()).await
    }

    /// Reads until one frame is whole in the buffer; `None` at EOF.
    async fn fill(&mut self, need: usize) -> io::Result<bool> {
        while self.buf.len() - self.start < need {
            if self.start > 0 && self.start == self.buf.len() {
                self.buf.clear();
                self.start = 0;
            } else if self.start > 64 << 10 {
                self.buf.drain(..self.start);
                self.start = 0;
            }
            let len = self.buf.len();
            self.buf.resize(len + 16384, 0);
            let n = match self.stream.read(&mut self.buf[len..]).await {
                Ok(n) => n,
                Err(e) => {
                    self.buf.truncate(len);
                    return Err(e);
                }
            };
            self.buf.truncate(len + n);
            if n == 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The next whole message or close frame; pings are answered on the
    /// way. `UnexpectedEof` when the connection ends without a close frame.
    pub async fn recv(&mut self) -> io::Result<Incoming> {
        loop {
            if !self.fill(2).await? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let b0 = self.buf[self.start];
            let b1 = self.buf[self.start + 1];
            let (len, header) = match b1 & 0x7f {
                126 => {
                    if !self.fill(4).await? {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    let s = self.start;
                    (
                        u16::from_be_bytes([self.buf[s + 2], self.buf[s + 3]]) as usize,
                        4,
                    )
                }
                127 => {
                    if !self.fill(10).await? {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    let s = self.start;
                    let mut n = [0u8; 8];
                    n.copy_from_slice(&self.buf[s + 2..s + 10]);
                    (u64::from_be_bytes(n) as usize, 10)
                }
                n => (n as usize, 2),
            };
            if len > MAX_MESSAGE || b1 & 0x80 != 0 {
                return Err(io::Error::other("bad frame from server"));
            }
            if !self.fill(header + len).await? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let payload = self.start + header..self.start + header + len;
            self.start += header + len;
            let fin = b0 & 0x80 != 0;
            match b0 & 0x0f {
                0x0..=0x2 => {
                    self.partial.extend_from_slice(&self.buf[payload]);
                    if self.partial.len() > MAX_MESSAGE {
                        return Err(io::Error::other("message too long"));
                    }
                    if fin {
                        return Ok(Incoming::Text(std::mem::take(&mut self.partial)));
                    }
                }
                0x8 => {
                    let p = &self.buf[payload];
                    let code = if p.len() >= 2 {
                        u16::from_be_bytes([p[0], p[1]])
                    } else {
                        1005
                    };
                    let reason = String::from_utf8_lossy(p.get(2..).unwrap_or(&[])).into_owned();
                    return Ok(Incoming::Close(code, reason));
                }
                0x9 => {
                    let p = self.buf[payload].to_vec();
                    self.send_frame(0xA, &p).await?;
                }
                _ => {}
            }
        }
    }

    /// After the server's close frame: replies with `code` and waits up to
    /// `wait` for the server to end the TCP connection. True when it did
    /// (the close handshake finished).
    pub async fn finish_close(&mut self, code: u16, wait: Duration) -> bool {
        if self.send_close(code).await.is_err() {
            return false;
        }
        let mut sink = [0u8; 4096];
        let ended = tokio::time::timeout(wait, async {
            loop {
                match self.stream.read(&mut sink).await {
                    Ok(0) => return true,
                    Ok(_) => {}
                    Err(_) => return false,
                }
            }
        });
        ended.await.unwrap_or(false)
    }
}
