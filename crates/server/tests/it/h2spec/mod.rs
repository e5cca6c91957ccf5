//! An h2spec-class conformance suite for pushwire's HTTP/2 (RFC 9113,
//! RFC 7541), written as tables of cases on a raw frame client.
//!
//! h2spec itself is a Go binary that cannot be installed where the
//! tests run; its sections are here instead, one module per part of the
//! RFCs, each a table of [`Case`]s: a script of frames (bytes built by
//! pushwire's frame writer and HPACK encoder, or by hand where they
//! must be wrong) and the exact reaction the server owes, a GOAWAY with
//! its code, an RST_STREAM with its code, a response, or nothing at all.
//! After a stream error or an ignored frame, the same connection must
//! still serve a request. Every frame the server sends in any case is
//! checked to be no longer than the client's `SETTINGS_MAX_FRAME_SIZE`.
//!
//! - [`connection`]: the preface, SETTINGS and frame sizes (sections 3,
//!   4.2, 6.5);
//! - [`streams`]: stream states, identifiers and concurrency (5.1);
//! - [`frames`]: each frame type's rules (section 6);
//! - [`messages`]: HTTP message rules (section 8);
//! - [`hpack`]: header compression errors (RFC 7541);
//! - [`timeouts`]: idle connections and streams, SETTINGS never
//!   acknowledged, PINGs never answered.

mod connection;
mod frames;
mod hpack;
mod messages;
mod peer;
mod streams;
mod timeouts;

use std::net::SocketAddr;

use pushwire_proto::http2::ErrorCode;

pub use peer::{Peer, Script};

/// What the server must do after a case's script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A GOAWAY with this code, then the connection closes.
    GoAway(ErrorCode),
    /// An RST_STREAM on this stream with this code; the connection goes
    /// on.
    Reset(u32, ErrorCode),
    /// A response on this stream with this status.
    Status(u32, u16),
    /// A PING answer with this payload, and no RST_STREAM or GOAWAY
    /// before it.
    Pong([u8; 8]),
    /// The connection closes (a GOAWAY with `NO_ERROR` may come first).
    Closed,
    /// Nothing: a PING sent after the script is answered with no
    /// RST_STREAM or GOAWAY before it.
    Ignored,
}

/// One conformance case: what it checks (the RFC's section), the frames
/// it sends, and the reaction it expects.
pub struct Case {
    pub name: &'static str,
    pub script: fn(&mut Script),
    pub expect: Expect,
}

/// Runs every case of `cases` against the server at `addr`, each on a
/// connection of its own, and returns how many ran. Failures are
/// collected, so one run names every case that failed.
pub async fn run_cases(addr: SocketAddr, cases: &[Case]) -> usize {
    let mut failures = Vec::new();
    for case in cases {
        if let Err(why) = run_case(addr, case).await {
            failures.push(format!("{}: {why}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    cases.len()
}

/// Runs one case; `Err` says how the server's reaction differed.
pub async fn run_case(addr: SocketAddr, case: &Case) -> Result<(), String> {
    let mut script = Script::default();
    (case.script)(&mut script);
    let mut peer = Peer::connect(addr, &script).await;
    peer.play(&script).await?;
    peer.expect(case.expect).await?;
    if !matches!(case.expect, Expect::GoAway(_) | Expect::Closed) {
        // A stream error or an ignored frame leaves the connection
        // serving.
        if let Some(next) = script.next_stream_id() {
            peer.expect_served(&mut script, next).await?;
        }
    }
    Ok(())
}
