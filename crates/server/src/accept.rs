//! The server side of the opening handshake on a raw byte stream.

use bytes::BytesMut;
use pushwire_proto::handshake::{parse_request, ClientOffer, HandshakeError, RequestHead};
use pushwire_proto::Role;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::{Error, Negotiated, WebSocket, WebSocketConfig};

/// Reads an upgrade request from `stream` and accepts it: negotiates
/// permessage-deflate as `config` allows and the first of `protocols`
/// the client offers.
///
/// A request that is not a valid upgrade is answered with its HTTP status
/// (`426 Upgrade Required` with `Sec-WebSocket-Version: 13` for a plain
/// request or an unknown version, `400`, `405`, `431`) and an error.
///
/// ```no_run
/// # async fn demo() -> Result<(), pushwire::Error> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
/// let (tcp, _) = listener.accept().await?;
/// let (mut ws, request) = pushwire::accept(tcp, &Default::default(), &["chat"]).await?;
/// println!("WebSocket on {}", request.target);
/// # Ok(()) }
/// ```
pub async fn accept<S>(
    stream: S,
    config: &WebSocketConfig,
    protocols: &[&str],
) -> Result<(WebSocket<S>, RequestHead), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // Boxed: the handshake state lives on the heap only while it runs,
    // instead of widening every caller's connection future for its lifetime.
    Box::pin(accept_inner(stream, config, protocols)).await
}

async fn accept_inner<S>(
    mut stream: S,
    config: &WebSocketConfig,
    protocols: &[&str],
) -> Result<(WebSocket<S>, RequestHead), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let handshake = async {
        let (head, leftover) = read_request(&mut stream, config.limits.max_handshake_bytes).await?;
        match ClientOffer::from_headers(&head.method, head.header_pairs()) {
            Ok(offer) => {
                let accept = offer.accept(protocols, config.deflate.as_ref());
                stream.write_all(&accept.to_response(&[])).await?;
                let negotiated = Negotiated {
                    protocol: accept.protocol,
                    deflate: accept.deflate,
                };
                Ok((negotiated, head, leftover))
            }
            Err(e) => Err(e.into()),
        }
    };
    let result = match tokio::time::timeout(config.handshake_timeout, handshake).await {
        Ok(result) => result,
        Err(_) => Err(Error::timeout("opening handshake")),
    };
    match result {
        Ok((negotiated, head, leftover)) => {
            let ws = WebSocket::from_upgraded(stream, Role::Server, config, negotiated, leftover);
            Ok((ws, head))
        }
        Err(e) => {
            if let Some(handshake) = e.handshake() {
                // Best effort: the peer may already be gone.
                let _ = stream.write_all(&handshake.to_response()).await;
                let _ = stream.shutdown().await;
            }
            Err(e)
        }
    }
}

/// Reads until a whole request head has arrived; returns it and the bytes
/// that followed it.
async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut S,
    max_bytes: usize,
) -> Result<(RequestHead, BytesMut), Error> {
    let mut buf = BytesMut::with_capacity(1024);
    loop {
        if let Some((head, used)) = parse_request(&buf, max_bytes)? {
            let _ = buf.split_to(used);
            return Ok((head, buf));
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(HandshakeError::Malformed("connection closed during the handshake").into());
        }
    }
}
