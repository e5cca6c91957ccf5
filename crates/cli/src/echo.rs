//! `pushwire echo`: a WebSocket echo server on every path.

use std::net::SocketAddr;

use pushwire::WebSocketConfig;
use tokio::net::{TcpListener, TcpStream};

/// Arguments of `pushwire echo`.
#[derive(clap::Args)]
pub struct EchoArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9001")]
    listen: SocketAddr,
    /// Do not offer permessage-deflate.
    #[arg(long)]
    no_deflate: bool,
    /// Send every message received to every connection instead of
    /// echoing it to its sender (the fan-out benchmark endpoint).
    #[arg(long)]
    broadcast: bool,
}

pub async fn run(args: EchoArgs) -> Result<(), pushwire::Error> {
    let listener = TcpListener::bind(args.listen).await?;
    tracing::info!("echo server listening on ws://{}", listener.local_addr()?);
    let mut config = WebSocketConfig::default();
    if args.no_deflate {
        config.deflate = None;
    }
    let config = std::sync::Arc::new(config);
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
        let config = config.clone();
        // Two kinds of task, so an echo connection's task does not carry
        // the larger broadcast state.
        match room.clone() {
            Some(room) => tokio::spawn(async move {
                if let Err(e) = room.serve(tcp, &config).await {
                    tracing::debug!("{peer}: {e}");
                }
            }),
            None => tokio::spawn(async move {
                if let Err(e) = echo(tcp, &config).await {
                    tracing::debug!("{peer}: {e}");
                }
            }),
        };
    }
}

async fn echo(tcp: TcpStream, config: &WebSocketConfig) -> Result<(), pushwire::Error> {
    tcp.set_nodelay(true)?;
    let (mut ws, _) = pushwire::accept(tcp, config, &[]).await?;
    while let Some(message) = ws.recv().await {
        let message = message?;
        if message.is_data() {
            ws.send(message).await?;
        }
    }
    Ok(())
}
