//! What the hub clients of the recovery storm and the resubscribe run
//! share: the lines they read from the hub (only the fields they use) and
//! writing a connection's queued bytes.

use std::borrow::Cow;
use std::io::{self, Write};

use mio::net::TcpStream;
use serde::Deserialize;

/// Writes `out[*pos..]` until done or the socket is full; clears `out`
/// once it is all written.
pub(super) fn flush(stream: &mut TcpStream, out: &mut Vec<u8>, pos: &mut usize) -> io::Result<()> {
    while *pos < out.len() {
        match stream.write(&out[*pos..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => *pos += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    out.clear();
    *pos = 0;
    Ok(())
}

/// One line from the hub: a reply or a push; what is not read is skipped.
#[derive(Deserialize)]
pub(super) struct Line<'a> {
    #[serde(default)]
    pub id: u32,
    #[serde(default)]
    pub connect: Option<ConnectResult>,
    #[serde(default, borrow)]
    pub subscribe: Option<SubscribeResult<'a>>,
    #[serde(default, borrow)]
    pub error: Option<ErrorReply<'a>>,
    #[serde(default)]
    pub push: Option<Push>,
}

#[derive(Deserialize)]
pub(super) struct ConnectResult {
    #[serde(default)]
    pub pong: bool,
}

#[derive(Deserialize)]
pub(super) struct SubscribeResult<'a> {
    #[serde(default)]
    pub recoverable: bool,
    #[serde(default, borrow)]
    pub epoch: Cow<'a, str>,
    #[serde(default)]
    pub offset: u64,
    #[serde(default)]
    pub recovered: bool,
    #[serde(default)]
    pub publications: Vec<Publication>,
}

/// A publication; its `data` is skipped.
#[derive(Deserialize)]
pub(super) struct Publication {
    #[serde(default)]
    pub offset: u64,
}

#[derive(Deserialize)]
pub(super) struct ErrorReply<'a> {
    #[serde(default)]
    pub code: u32,
    #[serde(default, borrow)]
    pub message: Cow<'a, str>,
}

#[derive(Deserialize)]
pub(super) struct Push {
    #[serde(default, rename = "pub")]
    pub publication: Option<Publication>,
    #[serde(default)]
    pub unsubscribe: Option<Unsubscribe>,
    #[serde(default)]
    pub disconnect: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
pub(super) struct Unsubscribe {
    #[serde(default)]
    pub code: u32,
}
