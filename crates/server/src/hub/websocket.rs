//! The hub over WebSocket: `/connection/websocket` (bidirectional: each
//! text frame holds `\n`-joined commands) and `/connection/uni_websocket`
//! (the first message is the connect request; the server only pushes).

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::{ready, Poll};
use std::time::Duration;

use bytes::Bytes;
use pushwire_hub::Transport;
use pushwire_proto::{CloseCode, CloseFrame, Message, Utf8Bytes};

use super::driver::Command;
use super::metrics::TransportKind;
use super::outlet::{self, Close, Taken};
use super::proxy::ConnMeta;
use super::HubHandle;
use crate::http::connection::ConnectionInfo;
use crate::http::shutdown::Shutdown;
use crate::upgrade::UpgradedStream;
use crate::ws::WebSocket;

/// How long a client may take to accept what was written to it: past
/// this, it is taken for gone and the connection dropped. (A client that
/// reads slowly but reads is left to its namespace's slow-consumer
/// policy, which applies to the backlog the hub holds.)
const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// What woke a connection's task.
enum Next {
    Received(Option<Result<Message, crate::error::Error>>),
    ToSend(Taken),
    /// The server is shutting down.
    Shutdown,
}

/// Serves one hub connection on `ws` until either side ends it, or the
/// server shuts down (close 3001: the client reconnects, to this server
/// once it is back, or to another).
///
/// The task's future is allocated for each connection's whole life, so
/// it is kept small: an `async` block (an `async fn` would hold its
/// arguments twice), and what is rare or large (the write-stall timer,
/// the close handshake, a command waiting for room in the driver's
/// queue) is boxed when it happens.
#[allow(clippy::manual_async_fn)] // an `async fn` doubles the future
pub(crate) fn serve(
    mut ws: WebSocket<UpgradedStream>,
    hub: HubHandle,
    transport: Transport,
    meta: ConnMeta,
    info: Option<ConnectionInfo>,
) -> impl Future<Output = ()> + Send {
    async move {
        let Some((conn, outlet)) = Box::pin(hub.open(transport, meta)).await else {
            close(&mut ws, shutting_down()).await;
            return;
        };
        let _open = hub.metrics.open(TransportKind::websocket(&transport));
        // Polled in place: an `async` block around it would be laid out
        // twice in this future (rust-lang/rust#62958).
        let mut shutdown = pin!(info.as_ref().map(ConnectionInfo::shutting_down));
        let mut connected = false;
        let mut messages = Vec::new();
        loop {
            let next = poll_fn(|cx| {
                if let Poll::Ready(taken) = outlet.poll_take(cx, &mut messages) {
                    return Poll::Ready(Next::ToSend(taken));
                }
                if let Some(shutdown) = shutdown.as_mut().as_pin_mut() {
                    if shutdown.poll(cx).is_ready() {
                        return Poll::Ready(Next::Shutdown);
                    }
                }
                ws.poll_recv(cx).map(Next::Received)
            })
            .await;
            match next {
                Next::Shutdown => {
                    close(&mut ws, server_closing(info.as_ref())).await;
                    break;
                }
                Next::ToSend(taken) => {
                    if send(&mut ws, &mut messages).await.is_err() {
                        break;
                    }
                    if let Some(frame) = ending(&taken) {
                        close(&mut ws, frame).await;
                        break;
                    }
                    if taken.refill {
                        hub.refill_soon(conn);
                    }
                }
                Next::Received(Some(Ok(message))) => {
                    let frame = match message {
                        Message::Text(text) => text.into_bytes(),
                        Message::Binary(bytes) => bytes,
                        Message::Ping(_) | Message::Pong(_) => continue,
                        Message::Close(_) => break,
                    };
                    let command = if !transport.is_unidirectional() {
                        Command::Frame { conn, frame }
                    } else if !connected {
                        // Only the first message counts: the connect request.
                        connected = true;
                        Command::UniConnect {
                            conn,
                            request: frame,
                        }
                    } else {
                        continue;
                    };
                    // Waiting for room in the driver's queue is rare: boxed.
                    if let Err(command) = hub.try_send(command) {
                        let _ = Box::pin(hub.commands.send(command)).await;
                    }
                }
                Next::Received(Some(Err(e))) => {
                    tracing::debug!("hub WebSocket ended: {e}");
                    break;
                }
                Next::Received(None) => break,
            }
        }
        hub.closed(conn);
    }
}

/// Writes what was taken from the outlet. Queued by hand rather than
/// by awaiting a feed per message, which would keep room for that
/// future, twice, in every connection's task.
async fn send(ws: &mut WebSocket<UpgradedStream>, messages: &mut Vec<Bytes>) -> Result<(), ()> {
    let mut next = 0;
    poll_fn(|cx| {
        while let Some(message) = messages.get(next) {
            ready!(ws.poll_ready(cx)).map_err(drop)?;
            next += 1;
            // The hub writes JSON from validated input: always UTF-8.
            if let Ok(text) = Utf8Bytes::try_from_bytes(message.clone()) {
                ws.start_send_shared(Message::text(text)).map_err(drop)?;
            }
        }
        Poll::Ready(Ok::<(), ()>(()))
    })
    .await?;
    outlet::recycle(messages);
    // Most flushes finish at once; the stall timer is armed only for
    // those that wait.
    let flushed = match poll_fn(|cx| Poll::Ready(ws.poll_flush(cx))).await {
        Poll::Ready(flushed) => flushed,
        Poll::Pending => {
            match Box::pin(tokio::time::timeout(WRITE_STALL_TIMEOUT, ws.flush())).await {
                Ok(flushed) => flushed,
                Err(_) => {
                    tracing::debug!(
                    "hub WebSocket dropped: its client took nothing for {WRITE_STALL_TIMEOUT:?}"
                );
                    return Err(());
                }
            }
        }
    };
    flushed.map_err(drop)
}

/// The close frame that ends the connection after what was taken, if
/// the hub said so.
fn ending(taken: &Taken) -> Option<CloseFrame> {
    if let Some(close) = &taken.close {
        return Some(close_frame(close));
    }
    taken.ended.then(shutting_down)
}

/// Runs the close handshake.
async fn close(ws: &mut WebSocket<UpgradedStream>, frame: CloseFrame) {
    let _ = Box::pin(ws.close(Some(frame))).await;
}

fn close_frame(close: &Close) -> CloseFrame {
    CloseFrame::new(CloseCode::from(close.code), close.reason.clone())
}

/// The hub stopped: clients reconnect (3001 shutdown).
fn shutting_down() -> CloseFrame {
    CloseFrame::new(CloseCode::from(3001), "shutdown")
}

/// How the server's shutdown closes a hub WebSocket: a restart (SIGHUP)
/// with 1012 (Service Restart), which clients, centrifuge-js among them,
/// take as "reconnect"; a stop with the hub's 3001 (shutdown).
fn server_closing(info: Option<&ConnectionInfo>) -> CloseFrame {
    match info.and_then(ConnectionInfo::shutdown) {
        Some(Shutdown::Restart) => Shutdown::Restart.close_frame(),
        _ => shutting_down(),
    }
}
