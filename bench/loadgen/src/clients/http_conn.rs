//! One keep-alive HTTP/1.1 client connection on mio: requests are queued
//! as bytes, responses parsed (status, a `Content-Length` or chunked
//! body) as they complete, and every byte each way counted — the
//! bytes-on-the-wire numbers of the polling scenarios come from here
//! (HTTP heads included, TCP/IP headers not).

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::net::TcpStream;
use socket2::{Domain, Protocol, Socket, Type};

use super::chunked::ChunkedDecoder;

/// Linux's EINPROGRESS: a non-blocking connect has started.
const EINPROGRESS: i32 = 115;
/// The most bytes a response head may take.
const MAX_HEAD: usize = 16 * 1024;

/// A complete response.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

/// Where the connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnPhase {
    /// The TCP connect has not completed.
    Connecting,
    /// Connected.
    Ready,
}

/// A keep-alive HTTP/1.1 client connection.
pub struct HttpConn {
    /// The socket.
    pub stream: TcpStream,
    /// Connected yet or not.
    pub phase: ConnPhase,
    out: Vec<u8>,
    out_pos: usize,
    input: Vec<u8>,
    /// Bytes written.
    pub bytes_out: u64,
    /// Bytes read.
    pub bytes_in: u64,
}

impl HttpConn {
    /// Starts a non-blocking connect from `source` to `target`.
    pub fn connect(source: SocketAddr, target: SocketAddr) -> io::Result<Self> {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
        socket.set_nonblocking(true)?;
        socket.set_tcp_nodelay(true)?;
        socket.bind(&source.into())?;
        match socket.connect(&target.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(EINPROGRESS) => {}
            Err(e) => return Err(e),
        }
        Ok(HttpConn {
            stream: TcpStream::from_std(socket.into()),
            phase: ConnPhase::Connecting,
            out: Vec::new(),
            out_pos: 0,
            input: Vec::new(),
            bytes_out: 0,
            bytes_in: 0,
        })
    }

    /// On a writable or error event while connecting: `Ok(true)` once
    /// connected.
    pub fn check_connected(&mut self) -> io::Result<bool> {
        if let Some(e) = self.stream.take_error()? {
            return Err(e);
        }
        match self.stream.peer_addr() {
            Ok(_) => {
                self.phase = ConnPhase::Ready;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Queues a request and writes what the socket takes.
    pub fn send(&mut self, request: &[u8]) -> io::Result<()> {
        self.out.extend_from_slice(request);
        if self.phase == ConnPhase::Ready {
            self.flush()
        } else {
            Ok(())
        }
    }

    /// Writes queued bytes until done or the socket is full.
    pub fn flush(&mut self) -> io::Result<()> {
        while self.out_pos < self.out.len() {
            match self.stream.write(&self.out[self.out_pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.out_pos += n;
                    self.bytes_out += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.out.clear();
        self.out_pos = 0;
        Ok(())
    }

    /// Reads all the socket has and returns the responses it completed.
    /// An end of stream is an error (the servers keep connections alive).
    pub fn read_responses(&mut self, scratch: &mut [u8]) -> io::Result<Vec<Response>> {
        loop {
            match self.stream.read(scratch) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection",
                    ))
                }
                Ok(n) => {
                    self.bytes_in += n as u64;
                    self.input.extend_from_slice(&scratch[..n]);
                    if n < scratch.len() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let mut responses = Vec::new();
        while let Some(response) = self.take_response()? {
            responses.push(response);
        }
        Ok(responses)
    }

    /// One complete response off the front of the input, if there is one.
    fn take_response(&mut self) -> io::Result<Option<Response>> {
        let invalid = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_owned());
        let Some(head_end) = self.input.windows(4).position(|w| w == b"\r\n\r\n") else {
            if self.input.len() > MAX_HEAD {
                return Err(invalid("response head too long"));
            }
            return Ok(None);
        };
        let head = std::str::from_utf8(&self.input[..head_end])
            .map_err(|_| invalid("response head is not UTF-8"))?;
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| invalid("bad status line"))?;
        let mut length = 0usize;
        let mut chunked = false;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            if name.eq_ignore_ascii_case("content-length") {
                length = value
                    .trim()
                    .parse()
                    .map_err(|_| invalid("bad Content-Length"))?;
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                if !value.trim().eq_ignore_ascii_case("chunked") {
                    return Err(invalid("a transfer coding other than chunked"));
                }
                chunked = true;
            }
        }
        if chunked {
            return self.take_chunked(status, head_end + 4);
        }
        let total = head_end + 4 + length;
        if self.input.len() < total {
            return Ok(None);
        }
        let body = self.input[head_end + 4..total].to_vec();
        self.input.drain(..total);
        Ok(Some(Response { status, body }))
    }

    /// A chunked body starting at `start` of the input (a held long poll's
    /// answer, whose head comes before its body): the response once its
    /// last chunk is in. Fed a byte at a time up to its end, as the next
    /// response may follow it in the input.
    fn take_chunked(&mut self, status: u16, start: usize) -> io::Result<Option<Response>> {
        let mut decoder = ChunkedDecoder::default();
        let mut body = Vec::new();
        let mut at = start;
        while !decoder.is_done() {
            let Some(byte) = self.input.get(at..at + 1) else {
                return Ok(None);
            };
            decoder
                .feed(byte, |data| body.extend_from_slice(data))
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.0))?;
            at += 1;
        }
        self.input.drain(..at);
        Ok(Some(Response { status, body }))
    }
}
