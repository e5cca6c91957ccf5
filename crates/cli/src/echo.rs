//! `pushwire echo`: a WebSocket echo server on every path.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use pushwire::proto::Limits;
use pushwire::{WebSocket, WebSocketConfig};

use crate::deflate_args::DeflateArgs;
use tokio::net::{TcpListener, TcpStream};

/// Arguments of `pushwire echo`.
#[derive(clap::Args)]
pub struct EchoArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9001")]
    listen: SocketAddr,
    #[command(flatten)]
    deflate: DeflateArgs,
    /// Send every message received to every connection instead of
    /// echoing it to its sender (the fan-out benchmark endpoint).
    #[arg(long)]
    broadcast: bool,
}

pub async fn run(args: EchoArgs) -> Result<(), pushwire::Error> {
    let listener = TcpListener::bind(args.listen).await?;
    tracing::info!("echo server listening on ws://{}", listener.local_addr()?);
    let config = Arc::new(args.deflate.websocket_config().limits(conformance_limits()));
    let room = args.broadcast.then(crate::broadcast::Room::default);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: keep serving the others.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        // Two kinds of task, so an echo connection's task does not carry
        // the larger broadcast state.
        match room.clone() {
            Some(room) => {
                let config = config.clone();
                tokio::spawn(async move {
                    if let Err(e) = room.serve(tcp, &config).await {
                        tracing::debug!("{peer}: {e}");
                    }
                })
            }
            None => tokio::spawn(EchoConnection::new(tcp, peer, config.clone())),
        };
    }
}

/// The echo server is the peer of the Autobahn suite, whose 9.x cases
/// send messages (and frames) of up to 16 MiB: it takes them, where the
/// library's defaults stop at 1 MiB.
fn conformance_limits() -> Limits {
    Limits::default()
        .max_frame_size(16 << 20)
        .max_message_size(16 << 20)
}

/// The opening handshake of one connection, boxed: it lives only while it runs.
type Handshake = Pin<Box<dyn Future<Output = Option<WebSocket<TcpStream>>> + Send>>;

/// One connection's task: the opening handshake, then every data message
/// sent back until the peer closes ([`WebSocket::poll_echo`]).
///
/// Written by hand rather than as an `async fn`: this is all an idle
/// connection holds besides its socket registration, and this way it is
/// the `WebSocket` and nothing more (an `async fn` keeps its arguments,
/// the peer address and the handshake's locals beside it).
// The large variant is the one that lasts: boxing it would only add an
// allocation per connection.
#[allow(clippy::large_enum_variant)]
enum EchoConnection {
    Handshake(Handshake),
    Open(WebSocket<TcpStream>),
}

impl EchoConnection {
    fn new(tcp: TcpStream, peer: SocketAddr, config: Arc<WebSocketConfig>) -> Self {
        EchoConnection::Handshake(Box::pin(async move {
            let accepted = async {
                tcp.set_nodelay(true)?;
                pushwire::accept(tcp, &config, &[]).await
            };
            match accepted.await {
                Ok((ws, _request)) => Some(ws),
                Err(e) => {
                    tracing::debug!("{peer}: {e}");
                    None
                }
            }
        }))
    }
}

impl Future for EchoConnection {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            match this {
                EchoConnection::Handshake(handshake) => match ready!(handshake.as_mut().poll(cx)) {
                    Some(ws) => *this = EchoConnection::Open(ws),
                    None => return Poll::Ready(()),
                },
                EchoConnection::Open(ws) => {
                    if let Err(e) = ready!(ws.poll_echo(cx)) {
                        match ws.get_ref().peer_addr() {
                            Ok(peer) => tracing::debug!("{peer}: {e}"),
                            Err(_) => tracing::debug!("{e}"),
                        }
                    }
                    return Poll::Ready(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The task of an idle connection is this future: keep it no larger
    /// than the `WebSocket` it drives plus a tag, so that tokio's task cell
    /// stays at 384 bytes (issue 4). The stream is left out of the budget,
    /// since `TcpStream` itself differs between debug and release.
    #[test]
    fn connection_future_stays_small() {
        let connection = std::mem::size_of::<EchoConnection>();
        let ws = std::mem::size_of::<WebSocket<TcpStream>>();
        assert!(connection <= ws + 8, "EchoConnection is {connection} bytes");
        let own = connection - std::mem::size_of::<TcpStream>();
        assert!(own <= 248, "EchoConnection adds {own} bytes to the stream");
    }
}
