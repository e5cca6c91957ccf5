//! A WebSocket echo server on fastwebsockets, written the way the crate's
//! own `echo_server` example is: hyper's HTTP/1.1 server performs the
//! upgrade, a `FragmentCollector` hands over whole messages, and each text
//! or binary message is written back. One thread (tokio's current-thread
//! runtime), so that pinning it to one core compares like with like.
//!
//! Usage: `fastwebsockets-echo 127.0.0.1:9001`

use std::net::SocketAddr;

use fastwebsockets::{upgrade, FragmentCollector, OpCode, WebSocketError};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Echoes every text and binary message until the peer closes.
async fn echo(upgraded: upgrade::UpgradeFut) -> Result<(), WebSocketError> {
    let mut ws = FragmentCollector::new(upgraded.await?);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => break,
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
    Ok(())
}

/// Answers the upgrade request and starts the echo task.
async fn upgrade_request(
    mut request: Request<Incoming>,
) -> Result<Response<Empty<Bytes>>, WebSocketError> {
    let (response, upgraded) = upgrade::upgrade(&mut request)?;
    tokio::spawn(async move {
        // A peer that vanishes mid-message is normal under load.
        let _ = echo(upgraded).await;
    });
    Ok(response)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listen: SocketAddr = std::env::args()
        .nth(1)
        .ok_or("usage: fastwebsockets-echo ADDR (e.g. 127.0.0.1:9001)")?
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
            let connection = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(upgrade_request))
                .with_upgrades();
            let _ = connection.await;
        });
    }
}
