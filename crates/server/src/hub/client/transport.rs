//! The transports the client speaks the hub protocol over, behind one
//! small interface ([`Link`]) so that the session layer — connect,
//! pings, replies, recovery — is the same on every one: a WebSocket over
//! HTTP/1.1 (`ws://`, `wss://`), a WebSocket over HTTP/2 (RFC 8441
//! extended CONNECT, `wss://` with ALPN `h2` or clear-text h2c), and the
//! SSE emulation (`/connection/sse` for the stream, `POST /emulation`
//! for the later commands).

use bytes::BytesMut;
use http::{Method, StatusCode};
use http_body_util::Full;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use pushwire_proto::ws::deflate::{client_offer, parse_extensions, validate_response};
use pushwire_proto::Role;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};

use super::endpoint::Endpoint;
use super::http::{hyper_error, HttpSender};
use super::session::TRANSPORT_CLOSED;
use super::sse::SseLink;
use super::{ClientError, ClientOptions};
use crate::ws::{ClientStream, Negotiated};
use crate::{CloseFrame, Message, WebSocket, WebSocketConfig};

/// A transport a [`Client`](super::Client) can connect over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// A WebSocket (`/connection/websocket`): over HTTP/1.1, or over
    /// HTTP/2 with [`ClientOptions::http2`].
    WebSocket,
    /// Server-Sent Events with the bidirectional emulation, as
    /// centrifuge-js's `sse` transport: `GET /connection/sse` carries the
    /// connect command and then the hub's replies and pushes, and every
    /// later command is a `POST /emulation` naming the session. For
    /// networks where a proxy blocks WebSockets.
    Sse,
}

impl Transport {
    /// The transport's name as centrifuge-js writes it (`websocket`,
    /// `sse`).
    pub fn name(self) -> &'static str {
        match self {
            Transport::WebSocket => "websocket",
            Transport::Sse => "sse",
        }
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Transport {
    type Err = String;

    fn from_str(name: &str) -> Result<Transport, String> {
        match name {
            "websocket" | "ws" => Ok(Transport::WebSocket),
            "sse" => Ok(Transport::Sse),
            _ => Err(format!(
                "unknown transport {name:?}: websocket or sse expected"
            )),
        }
    }
}

/// How a transport ended: the disconnect code and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Closed {
    pub(super) code: u32,
    pub(super) reason: String,
}

impl Closed {
    pub(super) fn transport(reason: impl Into<String>) -> Closed {
        Closed {
            code: TRANSPORT_CLOSED,
            reason: reason.into(),
        }
    }

    /// A WebSocket error: its close code when it has one.
    fn websocket(error: &crate::Error) -> Closed {
        match error.close_code() {
            Some(code) => Closed {
                code: u32::from(code.0),
                reason: error.to_string(),
            },
            None => Closed::transport(error.to_string()),
        }
    }

    /// A close frame from the hub: its code and reason.
    fn frame(frame: Option<CloseFrame>) -> Closed {
        match frame {
            Some(frame) => Closed {
                code: u32::from(frame.code.0),
                reason: frame.reason.to_string(),
            },
            None => Closed {
                code: 1005,
                reason: "closed without a code".into(),
            },
        }
    }
}

/// One open transport to the hub.
pub(super) enum Link {
    /// A WebSocket over HTTP/1.1.
    WebSocket(WebSocket<ClientStream>),
    /// A WebSocket over an HTTP/2 stream; the connection's sender is
    /// kept so that the connection lives as long as the WebSocket.
    Http2WebSocket {
        ws: WebSocket<TokioIo<Upgraded>>,
        _connection: HttpSender,
    },
    /// The SSE emulation.
    Sse(SseLink),
}

impl Link {
    /// Opens `transport` to the hub at `endpoint` and sends `connect`,
    /// the connect command (on the SSE stream's request itself).
    pub(super) async fn open(
        endpoint: &Endpoint,
        transport: Transport,
        options: &ClientOptions,
        connect: String,
    ) -> Result<Link, ClientError> {
        let mut link = match transport {
            Transport::WebSocket if options.http2 => {
                open_http2_websocket(endpoint, options).await?
            }
            Transport::WebSocket => open_websocket(endpoint, options).await?,
            Transport::Sse => {
                return Ok(Link::Sse(SseLink::open(endpoint, options, connect).await?));
            }
        };
        link.send(connect)
            .await
            .map_err(|closed| ClientError::Disconnected {
                code: closed.code,
                reason: closed.reason,
            })?;
        Ok(link)
    }

    /// The transport's name, for logs.
    pub(super) fn name(&self) -> &'static str {
        match self {
            Link::WebSocket(_) => "websocket",
            Link::Http2WebSocket { .. } => "websocket over HTTP/2",
            Link::Sse(_) => "sse",
        }
    }

    /// The hub accepted the connection with `result`: the SSE emulation
    /// learns its session from it.
    pub(super) fn connected(&mut self, result: &Value) -> Result<(), Closed> {
        match self {
            Link::Sse(sse) => sse.connected(result),
            _ => Ok(()),
        }
    }

    /// Queues a command (one JSON object), to go with the next flush.
    pub(super) async fn feed(&mut self, command: String) -> Result<(), Closed> {
        match self {
            Link::WebSocket(ws) => ws_feed(ws, command).await,
            Link::Http2WebSocket { ws, .. } => ws_feed(ws, command).await,
            Link::Sse(sse) => {
                sse.feed(command);
                Ok(())
            }
        }
    }

    /// Sends what was queued.
    pub(super) async fn flush(&mut self) -> Result<(), Closed> {
        match self {
            Link::WebSocket(ws) => ws.flush().await.map_err(|e| Closed::websocket(&e)),
            Link::Http2WebSocket { ws, .. } => ws.flush().await.map_err(|e| Closed::websocket(&e)),
            Link::Sse(sse) => sse.flush().await,
        }
    }

    /// Sends one command now (with what was queued before it).
    pub(super) async fn send(&mut self, command: String) -> Result<(), Closed> {
        self.feed(command).await?;
        self.flush().await
    }

    /// The next frame from the hub: one or more replies and pushes, one
    /// JSON object a line; the transport's end as `Err`.
    pub(super) async fn recv(&mut self) -> Result<String, Closed> {
        match self {
            Link::WebSocket(ws) => ws_recv(ws).await,
            Link::Http2WebSocket { ws, .. } => ws_recv(ws).await,
            Link::Sse(sse) => sse.recv().await,
        }
    }

    /// Closes the transport (a WebSocket's closing handshake; the SSE
    /// stream's request is dropped, which ends the hub's session).
    pub(super) async fn close(&mut self) {
        match self {
            Link::WebSocket(ws) => drop(ws.close(None).await),
            Link::Http2WebSocket { ws, .. } => drop(ws.close(None).await),
            Link::Sse(sse) => sse.close(),
        }
    }
}

async fn ws_feed<S>(ws: &mut WebSocket<S>, command: String) -> Result<(), Closed>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    ws.feed(Message::text(command))
        .await
        .map_err(|e| Closed::websocket(&e))
}

async fn ws_recv<S>(ws: &mut WebSocket<S>) -> Result<String, Closed>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        match ws.recv().await {
            None => return Err(Closed::transport("connection closed")),
            Some(Err(e)) => return Err(Closed::websocket(&e)),
            Some(Ok(Message::Close(frame))) => return Err(Closed::frame(frame)),
            Some(Ok(Message::Text(text))) => return Ok(text.as_str().to_string()),
            Some(Ok(_)) => continue,
        }
    }
}

/// A WebSocket over HTTP/1.1 by the library's client.
async fn open_websocket(endpoint: &Endpoint, options: &ClientOptions) -> Result<Link, ClientError> {
    let mut builder = crate::ClientBuilder::new(endpoint.websocket_url());
    if let Some(ca) = &options.ca_file {
        builder = builder.ca_file(ca);
    }
    Ok(Link::WebSocket(builder.connect().await?))
}

/// A WebSocket over HTTP/2 (RFC 8441): an extended CONNECT with
/// `:protocol` `websocket` once the server's SETTINGS allowed it,
/// offering permessage-deflate. A TLS server whose ALPN chose HTTP/1.1
/// gets the HTTP/1.1 WebSocket instead, as a browser would do.
async fn open_http2_websocket(
    endpoint: &Endpoint,
    options: &ClientOptions,
) -> Result<Link, ClientError> {
    let mut sender = HttpSender::connect(endpoint, options, true, true).await?;
    if !sender.is_http2() {
        return open_websocket(endpoint, options).await;
    }
    let config = WebSocketConfig::default();
    let mut request = sender
        .request(endpoint, &endpoint.websocket_path())
        .method(Method::CONNECT)
        .extension(hyper::ext::Protocol::from_static("websocket"))
        .header("sec-websocket-version", "13");
    if let Some(deflate) = &config.deflate {
        request = request.header("sec-websocket-extensions", client_offer(deflate));
    }
    let request = request
        .body(Full::default())
        .map_err(|e| ClientError::Url(e.to_string()))?;
    let mut response = sender.send(request).await?;
    if response.status() != StatusCode::OK {
        return Err(ClientError::Http {
            status: response.status().as_u16(),
            body: "the extended CONNECT was refused".into(),
        });
    }
    let extensions = match response.headers().get("sec-websocket-extensions") {
        Some(value) => value
            .to_str()
            .ok()
            .and_then(parse_extensions)
            .ok_or_else(|| ClientError::Protocol("bad sec-websocket-extensions".into()))?,
        None => Vec::new(),
    };
    let deflate = match &config.deflate {
        Some(offer) => validate_response(offer, &extensions)
            .map_err(|e| ClientError::Protocol(format!("permessage-deflate: {e}")))?,
        None if extensions.is_empty() => None,
        None => return Err(ClientError::Protocol("an extension was not offered".into())),
    };
    let upgraded = hyper::upgrade::on(&mut response)
        .await
        .map_err(hyper_error)?;
    let negotiated = Negotiated {
        protocol: None,
        deflate,
    };
    let ws = WebSocket::from_upgraded(
        TokioIo::new(upgraded),
        Role::Client,
        &config,
        negotiated,
        BytesMut::new(),
    );
    Ok(Link::Http2WebSocket {
        ws,
        _connection: sender,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transports_are_named_as_centrifuge_js_names_them() {
        for transport in [Transport::WebSocket, Transport::Sse] {
            assert_eq!(transport.name().parse::<Transport>(), Ok(transport));
        }
        assert!("http_stream".parse::<Transport>().is_err());
    }
}
