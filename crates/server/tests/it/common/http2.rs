//! An HTTP/2 client made of the `h2` crate: a connection, GET, response
//! heads and bodies within [`LIMIT`], RFC 8441 extended CONNECT, and a
//! WebSocket over it.

use bytes::Bytes;
use h2::client::SendRequest;
use h2::{RecvStream, SendStream};
use http::{Method, Request, Response};
use pushwire::proto::ws::deflate::{parse_extensions, validate_response, DeflateConfig};
use pushwire::proto::Role;
use pushwire::upgrade::Http2Stream;
use pushwire::ws::Negotiated;
use pushwire::{WebSocket, WebSocketConfig};
use tokio::io::{AsyncRead, AsyncWrite};

use super::LIMIT;

/// Opens an HTTP/2 connection over `io`, driven by a task of its own,
/// and returns its handle once it may send a request.
pub async fn h2_handshake<IO>(io: IO) -> SendRequest<Bytes>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (client, connection) = h2::client::handshake(io).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client.ready().await.unwrap()
}

/// Opens an HTTP/2 connection over `io` and waits until it serves a
/// request (so the server's SETTINGS have arrived).
pub async fn h2_client<IO>(io: IO) -> SendRequest<Bytes>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut client = h2_handshake(io).await;
    let (status, body) = h2_get(&mut client, "/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    client
}

/// A GET over HTTP/2: status and body.
pub async fn h2_get(client: &mut SendRequest<Bytes>, path: &str) -> (u16, String) {
    let request = Request::get(format!("http://localhost{path}"))
        .body(())
        .unwrap();
    let (response, _) = client.send_request(request, true).unwrap();
    let response = h2_response(response).await;
    let status = response.status().as_u16();
    let bytes = h2_body(response.into_body()).await;
    (status, String::from_utf8(bytes).unwrap())
}

/// An HTTP/2 response's head, within [`LIMIT`].
pub async fn h2_response(response: h2::client::ResponseFuture) -> Response<RecvStream> {
    tokio::time::timeout(LIMIT, response)
        .await
        .unwrap()
        .unwrap()
}

/// An HTTP/2 body read to its end, each chunk within [`LIMIT`], its
/// window returned as it is read.
pub async fn h2_body(mut body: RecvStream) -> Vec<u8> {
    let mut bytes = Vec::new();
    while let Some(chunk) = tokio::time::timeout(LIMIT, body.data()).await.unwrap() {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        bytes.extend_from_slice(&chunk);
    }
    bytes
}

/// Sends an RFC 8441 extended CONNECT for `path` with `headers`; returns
/// the response head and the stream's two halves.
pub async fn h2_connect(
    client: &mut SendRequest<Bytes>,
    path: &str,
    headers: &[(&str, &str)],
) -> (http::response::Parts, SendStream<Bytes>, RecvStream) {
    let mut request = Request::builder()
        .method(Method::CONNECT)
        .uri(format!("http://localhost{path}"))
        .extension(h2::ext::Protocol::from_static("websocket"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let client = tokio::time::timeout(LIMIT, client.clone().ready())
        .await
        .unwrap()
        .unwrap();
    let mut client = client;
    let (response, send) = client
        .send_request(request.body(()).unwrap(), false)
        .unwrap();
    let response = h2_response(response).await;
    let (parts, recv) = response.into_parts();
    (parts, send, recv)
}

/// The headers of a WebSocket's extended CONNECT: version 13, subprotocol
/// `chat`, and `offer` as its extensions.
pub fn websocket_headers(offer: &str) -> [(&'static str, &str); 3] {
    [
        ("sec-websocket-version", "13"),
        ("sec-websocket-protocol", "chat"),
        ("sec-websocket-extensions", offer),
    ]
}

/// Opens a WebSocket over HTTP/2 (RFC 8441) to `path`, offering `chat`
/// and permessage-deflate.
pub async fn h2_websocket(client: &mut SendRequest<Bytes>, path: &str) -> WebSocket<Http2Stream> {
    let deflate = DeflateConfig::default();
    let offer = pushwire::proto::ws::deflate::client_offer(&deflate);
    let (parts, send, recv) = h2_connect(client, path, &websocket_headers(&offer)).await;
    assert_eq!(parts.status, 200, "{parts:?}");
    assert!(parts.headers.get("sec-websocket-accept").is_none());
    let protocol = parts
        .headers
        .get("sec-websocket-protocol")
        .map(|v| v.to_str().unwrap().to_owned());
    let extensions = parts
        .headers
        .get("sec-websocket-extensions")
        .map(|v| parse_extensions(v.to_str().unwrap()).unwrap())
        .unwrap_or_default();
    let negotiated = Negotiated {
        protocol,
        deflate: validate_response(&deflate, &extensions).unwrap(),
    };
    WebSocket::from_http2(
        Http2Stream::new(send, recv),
        Role::Client,
        &WebSocketConfig::default(),
        negotiated,
    )
}
