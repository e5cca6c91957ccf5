//! The hub over WebSocket: `/connection/websocket` (bidirectional: each
//! text frame holds `\n`-joined commands) and `/connection/uni_websocket`
//! (the first message is the connect request; the server only pushes).

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use pushwire_hub::{ConnId, Transport};
use pushwire_proto::{CloseCode, CloseFrame, Message, Utf8Bytes};

use super::metrics::TransportKind;
use super::outlet::{Batch, Close};
use super::HubHandle;
use crate::http::connection::ConnectionInfo;
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
    ToSend(Batch),
    /// The server is shutting down.
    Shutdown,
}

/// Serves one hub connection on `ws` until either side ends it, or the
/// server shuts down (close 3001: the client reconnects, to this server
/// once it is back, or to another).
pub(crate) async fn serve(
    mut ws: WebSocket<UpgradedStream>,
    hub: HubHandle,
    transport: Transport,
    info: Option<ConnectionInfo>,
) {
    let unidirectional = transport.is_unidirectional();
    let Some((conn, outlet)) = hub.open(transport).await else {
        let _ = ws.close(Some(shutting_down())).await;
        return;
    };
    let _open = hub.metrics.open(TransportKind::websocket(&transport));
    let mut shutdown = pin!(async move {
        match info {
            Some(info) => info.shutting_down().await,
            None => std::future::pending().await,
        }
    });
    let mut connected = false;
    loop {
        let next = poll_fn(|cx| {
            if let Poll::Ready(batch) = outlet.poll_take(cx) {
                return Poll::Ready(Next::ToSend(batch));
            }
            if shutdown.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Next::Shutdown);
            }
            ws.poll_recv(cx).map(Next::Received)
        })
        .await;
        match next {
            Next::Shutdown => {
                let _ = ws.close(Some(shutting_down())).await;
                break;
            }
            Next::ToSend(batch) => {
                if send(&mut ws, &hub, conn, batch).await.is_err() {
                    break;
                }
            }
            Next::Received(Some(Ok(message))) => {
                let frame = match message {
                    Message::Text(text) => text.into_bytes(),
                    Message::Binary(bytes) => bytes,
                    Message::Ping(_) | Message::Pong(_) => continue,
                    Message::Close(_) => break,
                };
                if unidirectional {
                    // Only the first message counts: the connect request.
                    if !connected {
                        connected = true;
                        hub.uni_connect(conn, frame).await;
                    }
                } else {
                    hub.frame(conn, frame).await;
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

/// Writes a batch; ends the connection when the hub says so.
async fn send(
    ws: &mut WebSocket<UpgradedStream>,
    hub: &HubHandle,
    conn: ConnId,
    batch: Batch,
) -> Result<(), ()> {
    for message in batch.messages {
        // The hub writes JSON from validated input: always UTF-8.
        let Ok(text) = Utf8Bytes::try_from_bytes(message) else {
            continue;
        };
        ws.feed_shared(Message::text(text)).await.map_err(drop)?;
    }
    match tokio::time::timeout(WRITE_STALL_TIMEOUT, ws.flush()).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) => return Err(()),
        Err(_) => {
            tracing::debug!(
                "hub WebSocket dropped: its client took nothing for {WRITE_STALL_TIMEOUT:?}"
            );
            return Err(());
        }
    }
    if let Some(close) = batch.close {
        let _ = ws.close(Some(close_frame(&close))).await;
        return Err(());
    }
    if batch.ended {
        let _ = ws.close(Some(shutting_down())).await;
        return Err(());
    }
    if batch.refill {
        hub.refill(conn).await;
    }
    Ok(())
}

fn close_frame(close: &Close) -> CloseFrame {
    CloseFrame::new(CloseCode::from(close.code), close.reason.clone())
}

/// The hub stopped: clients reconnect (3001 shutdown).
fn shutting_down() -> CloseFrame {
    CloseFrame::new(CloseCode::from(3001), "shutdown")
}
