//! Checks that a server really echoes before it is measured: one
//! connection through pushwire-proto's full decoder, two messages (the
//! second proves the server keeps its permessage-deflate state right),
//! payloads compared byte for byte. The timed loop only counts frames, so
//! this is where correctness is proven.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use pushwire_proto::bytes::BytesMut;
use pushwire_proto::ws::deflate::{DeflateParams, Inflater};
use pushwire_proto::{Limits, Message, Receiver, Role};

use crate::error::BenchError;
use crate::wire::handshake::{Upgrade, UpgradeStatus};
use crate::wire::outgoing;
use crate::wire::rng::Rng;

/// How long the probe waits on any one read.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the probe learned.
#[derive(Debug, Clone, Default)]
pub struct ProbeReport {
    /// The agreed permessage-deflate parameters, if any.
    pub deflate: Option<DeflateParams>,
    /// The server's `Sec-WebSocket-Extensions` answer, verbatim.
    pub extensions: Option<String>,
}

/// Upgrades, echoes `message` twice and checks both replies.
pub fn probe(
    addr: SocketAddr,
    message: &Message,
    offer_deflate: bool,
) -> Result<ProbeReport, BenchError> {
    let io = |what: &str| {
        let what = format!("probe of {addr}: {what}");
        move |e| BenchError::io(what, e)
    };
    let mut stream = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT).map_err(io("connect"))?;
    stream
        .set_read_timeout(Some(PROBE_TIMEOUT))
        .map_err(io("set timeout"))?;
    stream.set_nodelay(true).map_err(io("set nodelay"))?;
    let mut rng = Rng::from_clock();
    let upgrade = Upgrade::new(&addr.to_string(), offer_deflate, &mut rng);
    stream
        .write_all(&upgrade.request_bytes())
        .map_err(io("send upgrade"))?;

    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut chunk = vec![0; 64 * 1024];
    let (head_len, deflate) = loop {
        let n = stream
            .read(&mut chunk)
            .map_err(io("read upgrade response"))?;
        if n == 0 {
            return Err(BenchError::Peer(format!(
                "probe of {addr}: closed during the upgrade"
            )));
        }
        buf.extend_from_slice(&chunk[..n]);
        match upgrade.check(&buf) {
            UpgradeStatus::Incomplete => {}
            UpgradeStatus::Refused(reason) => {
                return Err(BenchError::Peer(format!("probe of {addr}: {reason}")))
            }
            UpgradeStatus::Accepted { head_len, deflate } => break (head_len, deflate),
        }
    };
    let extensions = Upgrade::extensions_header(&buf[..head_len]);
    let _ = buf.split_to(head_len);

    let frame = outgoing::message_frame(message, rng.mask_key(), deflate.as_ref());
    let mut two = frame.clone();
    two.extend_from_slice(&frame);
    stream.write_all(&two).map_err(io("send messages"))?;

    let inflater = deflate
        .as_ref()
        .map(|p| Inflater::new(p.server_no_context_takeover));
    let mut receiver = Receiver::new(Role::Client, Limits::default(), inflater);
    let mut echoed = 0;
    while echoed < 2 {
        match receiver.decode(&mut buf) {
            Ok(Some(reply)) if reply.is_data() => {
                if &reply != message {
                    return Err(BenchError::Peer(format!(
                        "probe of {addr}: echo {} differs from what was sent ({} bytes back, {} sent)",
                        echoed + 1,
                        reply.len(),
                        message.len()
                    )));
                }
                echoed += 1;
            }
            Ok(Some(_)) => {}
            Ok(None) => {
                let n = stream.read(&mut chunk).map_err(io("read echo"))?;
                if n == 0 {
                    return Err(BenchError::Peer(format!(
                        "probe of {addr}: closed before echoing"
                    )));
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            Err(e) => {
                return Err(BenchError::Peer(format!(
                    "probe of {addr}: invalid echo: {e}"
                )))
            }
        }
    }
    // Polite close; the answer does not matter.
    let _ = stream.write_all(&outgoing::close_frame(rng.mask_key()));
    Ok(ProbeReport {
        deflate,
        extensions,
    })
}
