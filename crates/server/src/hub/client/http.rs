//! An HTTP connection to the hub, for the transports that are not a
//! WebSocket over HTTP/1.1: a WebSocket over HTTP/2 (RFC 8441) and the
//! SSE emulation. HTTP/1.1 or HTTP/2 by hyper's client connections; TLS
//! by rustls, offering `h2` by ALPN when HTTP/2 is asked for; in clear
//! text HTTP/2 is spoken with prior knowledge (h2c).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use super::endpoint::Endpoint;
use super::{ClientError, ClientOptions};
use crate::http::client_tls::client_config;
use crate::ws::ClientStream;

/// How often the client looks whether the server's SETTINGS allowed
/// extended CONNECT, while it waits for them.
const SETTINGS_POLL: Duration = Duration::from_millis(2);

/// The sending side of one HTTP connection; its connection is driven by
/// a task of its own, which ends when every sender is dropped.
pub(super) enum HttpSender {
    /// An HTTP/1.1 connection: one request at a time.
    Http1(http1::SendRequest<Full<Bytes>>),
    /// An HTTP/2 connection: requests share it.
    Http2(http2::SendRequest<Full<Bytes>>),
}

/// An HTTP error (hyper's) as a transport error.
pub(super) fn hyper_error(e: hyper::Error) -> ClientError {
    ClientError::Transport(std::io::Error::other(e).into())
}

impl HttpSender {
    /// Opens a connection to `endpoint`: HTTP/2 when `http2` (ALPN `h2`
    /// over TLS, taking HTTP/1.1 if the server declines it; prior
    /// knowledge in clear text), else HTTP/1.1. With `extended_connect`,
    /// an HTTP/2 connection is returned once the server's SETTINGS
    /// allowed extended CONNECT (RFC 8441, section 3: a client must see
    /// it before it sends one); a server that never does makes the
    /// caller's timeout pass.
    pub(super) async fn connect(
        endpoint: &Endpoint,
        options: &ClientOptions,
        http2: bool,
        extended_connect: bool,
    ) -> Result<HttpSender, ClientError> {
        let tcp = TcpStream::connect((endpoint.host.as_str(), endpoint.port)).await?;
        tcp.set_nodelay(true)?;
        let (stream, h2) = if endpoint.secure {
            let alpn: Vec<Vec<u8>> = if http2 {
                vec![b"h2".to_vec(), b"http/1.1".to_vec()]
            } else {
                vec![b"http/1.1".to_vec()]
            };
            let config = tls_config(options, alpn)?;
            let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
            let name = rustls::pki_types::ServerName::try_from(endpoint.host.clone())
                .map_err(|e| ClientError::Url(format!("{}: {e}", endpoint.host)))?;
            let tls = connector.connect(name, tcp).await?;
            let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
            (ClientStream::Tls(Box::new(tls)), h2)
        } else {
            (ClientStream::Plain(tcp), http2)
        };
        let io = TokioIo::new(stream);
        if h2 {
            let (sender, connection) = http2::handshake(TokioExecutor::new(), io)
                .await
                .map_err(hyper_error)?;
            let mut connection = Box::pin(connection);
            if extended_connect {
                // hyper reads the SETTINGS on a task of its own and
                // wakes nobody for them: look every few milliseconds,
                // driving the connection meanwhile.
                while !connection.is_extended_connect_protocol_enabled() {
                    tokio::select! {
                        ended = connection.as_mut() => {
                            return Err(match ended {
                                Ok(()) => ClientError::Disconnected {
                                    code: super::session::TRANSPORT_CLOSED,
                                    reason: "the HTTP/2 connection closed".into(),
                                },
                                Err(e) => hyper_error(e),
                            });
                        }
                        _ = tokio::time::sleep(SETTINGS_POLL) => {}
                    }
                }
            }
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, "hub client: HTTP/2 connection ended");
                }
            });
            Ok(HttpSender::Http2(sender))
        } else {
            let (sender, connection) = http1::handshake(io).await.map_err(hyper_error)?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, "hub client: HTTP/1.1 connection ended");
                }
            });
            Ok(HttpSender::Http1(sender))
        }
    }

    /// Whether the connection speaks HTTP/2.
    pub(super) fn is_http2(&self) -> bool {
        matches!(self, HttpSender::Http2(_))
    }

    /// Another sender on the same connection, for HTTP/2 (an HTTP/1.1
    /// connection serves one request at a time).
    pub(super) fn share(&self) -> Option<HttpSender> {
        match self {
            HttpSender::Http1(_) => None,
            HttpSender::Http2(sender) => Some(HttpSender::Http2(sender.clone())),
        }
    }

    /// Whether the connection can take no more requests.
    pub(super) fn is_closed(&self) -> bool {
        match self {
            HttpSender::Http1(sender) => sender.is_closed(),
            HttpSender::Http2(sender) => sender.is_closed(),
        }
    }

    /// The request URI for `path_and_query` of `endpoint`: the path for
    /// HTTP/1.1 (with a `Host` header), absolute for HTTP/2 (its
    /// `:scheme` and `:authority`).
    pub(super) fn request(
        &self,
        endpoint: &Endpoint,
        path_and_query: &str,
    ) -> http::request::Builder {
        let builder = Request::builder();
        match self {
            HttpSender::Http1(_) => builder
                .uri(path_and_query)
                .header(http::header::HOST, endpoint.authority()),
            HttpSender::Http2(_) => {
                let scheme = if endpoint.secure { "https" } else { "http" };
                builder
                    .uri(format!(
                        "{scheme}://{}{path_and_query}",
                        endpoint.authority()
                    ))
                    .version(http::Version::HTTP_2)
            }
        }
    }

    /// Sends `request` once the connection takes it; the response head.
    pub(super) async fn send(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> Result<Response<Incoming>, ClientError> {
        match self {
            HttpSender::Http1(sender) => {
                sender.ready().await.map_err(hyper_error)?;
                sender.send_request(request).await.map_err(hyper_error)
            }
            HttpSender::Http2(sender) => {
                sender.ready().await.map_err(hyper_error)?;
                sender.send_request(request).await.map_err(hyper_error)
            }
        }
    }
}

/// The client's TLS settings: the public roots and the CA file, offering
/// `alpn`.
pub(super) fn tls_config(
    options: &ClientOptions,
    alpn: Vec<Vec<u8>>,
) -> Result<rustls::ClientConfig, ClientError> {
    client_config(options.ca_file.as_deref(), alpn).map_err(ClientError::Transport)
}
