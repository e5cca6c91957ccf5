//! A WebSocket echo server on tokio-tungstenite, written the way the
//! crate's own `echo-server` example is: `accept_async` with the default
//! configuration, then the read half forwarded into the write half,
//! keeping text and binary messages. One thread (tokio's current-thread
//! runtime), so that pinning it to one core compares like with like.
//! tokio-tungstenite has no permessage-deflate.
//!
//! Usage: `tungstenite-echo 127.0.0.1:9001`

use std::net::SocketAddr;

use futures_util::{future, StreamExt, TryStreamExt};
use tokio::net::{TcpListener, TcpStream};

/// Performs the handshake and echoes until the peer closes.
async fn echo(stream: TcpStream) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let ws = tokio_tungstenite::accept_async(stream).await?;
    let (write, read) = ws.split();
    read.try_filter(|message| future::ready(message.is_text() || message.is_binary()))
        .forward(write)
        .await
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listen: SocketAddr = std::env::args()
        .nth(1)
        .ok_or("usage: tungstenite-echo ADDR (e.g. 127.0.0.1:9001)")?
        .parse()?;
    let listener = TcpListener::bind(listen).await?;
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                eprintln!("accept: {e}");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            // A peer that vanishes mid-message is normal under load.
            let _ = echo(stream).await;
        });
    }
}
