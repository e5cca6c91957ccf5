//! The hub over WebSocket: `/connection/websocket` (bidirectional: each
//! text frame holds `\n`-joined commands) and `/connection/uni_websocket`
//! (the first message is the connect request; the server only pushes).
//!
//! An upgraded WebSocket is handed to the hub's driver, which polls it
//! from then on among all the others (see [`super::sockets`]): no task
//! stays behind for it.

use pushwire_hub::Transport;

use super::driver::Command;
use super::proxy::ConnMeta;
use super::sockets::shutting_down;
use super::HubHandle;
use crate::http::connection::ConnectionInfo;
use crate::upgrade::UpgradedStream;
use crate::ws::WebSocket;

/// Hands `ws` to the hub as a connection of `transport`. When the hub has
/// stopped, closes it with 3001 (shutdown): the client reconnects, to
/// this server once it is back, or to another.
pub(crate) async fn serve(
    ws: WebSocket<UpgradedStream>,
    hub: HubHandle,
    transport: Transport,
    meta: ConnMeta,
    info: Option<ConnectionInfo>,
) {
    let command = Command::Adopt {
        ws: Box::new(ws),
        transport,
        meta,
        info,
    };
    if let Err(refused) = hub.commands.send(command).await {
        if let Command::Adopt { mut ws, .. } = refused.0 {
            let _ = ws.close(Some(shutting_down())).await;
        }
    }
}
