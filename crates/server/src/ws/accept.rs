//! The server side of the opening handshake on a raw byte stream.

use bytes::BytesMut;
use pushwire_proto::ws::handshake::{parse_request, ClientOffer, HandshakeError, RequestHead};
use pushwire_proto::Role;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::{Negotiated, WebSocket, WebSocketConfig};
use crate::error::Error;
use crate::io::poll_read_on_stack;

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
    let handshake = handshake(&mut stream, config, protocols);
    match tokio::time::timeout(config.handshake_timeout, handshake).await {
        Ok(Ok((negotiated, head, leftover))) => {
            let ws = WebSocket::from_upgraded(stream, Role::Server, config, negotiated, leftover);
            Ok((ws, head))
        }
        Ok(Err(e)) => {
            if let Some(handshake) = e.handshake() {
                refuse(&mut stream, handshake.to_response()).await;
            }
            Err(e)
        }
        Err(_) => Err(Error::timeout("opening handshake")),
    }
}

/// Reads the request and answers it; returns what was agreed, the request
/// and the bytes that followed it.
async fn handshake<S>(
    stream: &mut S,
    config: &WebSocketConfig,
    protocols: &[&str],
) -> Result<(Negotiated, RequestHead, BytesMut), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (head, leftover) = read_request(stream, config.limits.max_handshake_bytes).await?;
    // In a block, so the offer is gone before the write: a future keeps
    // whatever is in scope across an await.
    let (negotiated, response) = {
        let offer = ClientOffer::from_headers(&head.method, head.header_pairs())?;
        let accept = offer.accept(protocols, config.deflate.as_ref());
        let response = accept.to_response(&[]);
        let negotiated = Negotiated {
            protocol: accept.protocol,
            deflate: accept.deflate,
        };
        (negotiated, response)
    };
    stream.write_all(&response).await?;
    Ok((negotiated, head, leftover))
}

/// Sends the refusal, best effort (the peer may already be gone), and
/// shuts the stream down.
async fn refuse<S: AsyncWrite + Unpin>(stream: &mut S, response: Vec<u8>) {
    let _ = stream.write_all(&response).await;
    let _ = stream.shutdown().await;
}

/// Bytes read per call while the request head arrives. The scratch space
/// lives on the stack of the poll call, so a handshake waiting for its
/// request holds no buffer.
const READ_CHUNK: usize = 4 << 10;

/// Reads until a whole request head has arrived; returns it and the bytes
/// that followed it.
async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut S,
    max_bytes: usize,
) -> Result<(RequestHead, BytesMut), Error> {
    let mut buf = BytesMut::new();
    loop {
        let read = std::future::poll_fn(|cx| {
            poll_read_on_stack::<READ_CHUNK, _>(cx, stream, |bytes| buf.extend_from_slice(bytes))
        })
        .await?;
        if read == 0 {
            return Err(HandshakeError::Malformed("connection closed during the handshake").into());
        }
        if let Some((head, used)) = parse_request(&buf, max_bytes)? {
            let _ = buf.split_to(used);
            return Ok((head, buf));
        }
    }
}
