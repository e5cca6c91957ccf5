//! One client connection: its socket, where it is in its life, the frame
//! it re-sends and the bytes still waiting to be written.

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::net::TcpStream;
use socket2::{Domain, Protocol, Socket, Type};

use crate::wire::frame_reader::FrameReader;
use crate::wire::handshake::Upgrade;

/// Linux's EINPROGRESS: a non-blocking connect has started.
const EINPROGRESS: i32 = 115;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The TCP connect has not completed.
    Connecting,
    /// The upgrade request is sent; the response head is awaited.
    Upgrading,
    /// The WebSocket is open.
    Open,
    /// Our close frame is sent; the server's close frame and its TCP
    /// close are awaited.
    Closing,
}

/// Whether a non-blocking connect has finished.
pub enum ConnectState {
    /// Still in progress.
    Pending,
    /// Connected.
    Connected,
    /// Failed with this error.
    Failed(io::Error),
}

/// One client connection.
pub struct Connection {
    /// The socket, registered with the engine's poll.
    pub stream: TcpStream,
    /// Where the connection is.
    pub phase: Phase,
    /// The upgrade request and its expected answer.
    pub upgrade: Upgrade,
    /// Response head bytes gathered while upgrading.
    pub response: Vec<u8>,
    /// Counts the server's frames.
    pub reader: FrameReader,
    /// The message frame this connection re-sends (built at upgrade).
    pub frame: Vec<u8>,
    /// Messages sent and not yet echoed.
    pub outstanding: usize,
    /// The server's close frame arrived.
    pub got_close: bool,
    /// Bytes waiting for the socket to take them, from `out_pos`.
    out: Vec<u8>,
    out_pos: usize,
}

impl Connection {
    /// Starts a non-blocking connect from `source` (port chosen by the
    /// kernel) to `target`, with TCP_NODELAY.
    pub fn connect(source: SocketAddr, target: SocketAddr, upgrade: Upgrade) -> io::Result<Self> {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
        socket.set_nonblocking(true)?;
        socket.set_tcp_nodelay(true)?;
        socket.bind(&source.into())?;
        match socket.connect(&target.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(EINPROGRESS) => {}
            Err(e) => return Err(e),
        }
        let stream = TcpStream::from_std(socket.into());
        let request = upgrade.request_bytes();
        Ok(Connection {
            stream,
            phase: Phase::Connecting,
            upgrade,
            response: Vec::new(),
            reader: FrameReader::default(),
            frame: Vec::new(),
            outstanding: 0,
            got_close: false,
            out: request,
            out_pos: 0,
        })
    }

    /// Checks a connect in progress (call on a writable or error event).
    pub fn connect_state(&mut self) -> ConnectState {
        match self.stream.take_error() {
            Ok(Some(e)) | Err(e) => return ConnectState::Failed(e),
            Ok(None) => {}
        }
        match self.stream.peer_addr() {
            Ok(_) => ConnectState::Connected,
            Err(e) if e.kind() == io::ErrorKind::NotConnected => ConnectState::Pending,
            Err(e) => ConnectState::Failed(e),
        }
    }

    /// Reads into `buf`, retrying on EINTR.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.stream.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    /// Sends the message frame `count` times (or queues what the socket
    /// does not take yet).
    pub fn send_frames(&mut self, count: usize) -> io::Result<()> {
        if self.out_pos == self.out.len() && count == 1 {
            // The common case: write straight from the frame, no copy.
            self.out.clear();
            self.out_pos = 0;
            let written = match self.stream.write(&self.frame) {
                Ok(n) => n,
                Err(e) if is_retry(&e) => 0,
                Err(e) => return Err(e),
            };
            if written < self.frame.len() {
                self.out.extend_from_slice(&self.frame[written..]);
            }
            return Ok(());
        }
        for _ in 0..count {
            self.out.extend_from_slice(&self.frame);
        }
        self.flush()
    }

    /// Queues arbitrary bytes (the close frame) and writes what it can.
    pub fn send_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.extend_from_slice(bytes);
        self.flush()
    }

    /// Writes queued bytes until done or the socket is full.
    pub fn flush(&mut self) -> io::Result<()> {
        while self.out_pos < self.out.len() {
            match self.stream.write(&self.out[self.out_pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.out.clear();
        self.out_pos = 0;
        Ok(())
    }
}

/// WouldBlock or EINTR: nothing written, try later.
fn is_retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}
