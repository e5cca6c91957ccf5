//! The WebSocket client: `ws://` and `wss://`.

use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::BytesMut;
use pushwire_proto::ws::handshake::{generate_key, parse_response, ClientRequest, HandshakeError};
use pushwire_proto::Role;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use super::{Negotiated, WebSocket, WebSocketConfig};
use crate::error::Error;
use crate::http::client_tls::client_config;

/// A client connection's stream: plain TCP or TLS.
#[derive(Debug)]
pub enum ClientStream {
    /// `ws://`
    Plain(TcpStream),
    /// `wss://`
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// Connects to a `ws://` or `wss://` URL with default settings.
///
/// ```no_run
/// # async fn demo() -> Result<(), pushwire::Error> {
/// let mut ws = pushwire::connect("ws://127.0.0.1:9001/").await?;
/// ws.send(pushwire::Message::text("hello")).await?;
/// # Ok(()) }
/// ```
pub async fn connect(url: &str) -> Result<WebSocket<ClientStream>, Error> {
    ClientBuilder::new(url).connect().await
}

/// Connection options for a client.
///
/// ```no_run
/// # async fn demo() -> Result<(), pushwire::Error> {
/// let ws = pushwire::ClientBuilder::new("wss://localhost:8443/chat")
///     .protocol("chat.v1")
///     .header("Authorization", "Bearer t0k3n")
///     .ca_file("dev-ca.pem")
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    url: String,
    protocols: Vec<String>,
    headers: Vec<(String, String)>,
    config: WebSocketConfig,
    ca_file: Option<PathBuf>,
}

impl ClientBuilder {
    /// A client for `url`, with default settings (deflate offered).
    pub fn new(url: impl Into<String>) -> Self {
        ClientBuilder {
            url: url.into(),
            protocols: Vec::new(),
            headers: Vec::new(),
            config: WebSocketConfig::default(),
            ca_file: None,
        }
    }

    /// Offers a subprotocol; call again to offer more, most preferred first.
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocols.push(protocol.into());
        self
    }

    /// Adds a request header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Connection settings, including whether deflate is offered.
    pub fn config(mut self, config: WebSocketConfig) -> Self {
        self.config = config;
        self
    }

    /// Trusts the CA certificates in this PEM file, besides the public roots.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Connects and performs the opening handshake.
    pub async fn connect(self) -> Result<WebSocket<ClientStream>, Error> {
        let url = WsUrl::parse(&self.url)?;
        let timeout = self.config.handshake_timeout;
        match tokio::time::timeout(timeout, self.connect_url(&url)).await {
            Ok(result) => result,
            Err(_) => Err(Error::timeout("opening handshake")),
        }
    }

    async fn connect_url(self, url: &WsUrl) -> Result<WebSocket<ClientStream>, Error> {
        let tcp = TcpStream::connect((url.host.as_str(), url.port)).await?;
        tcp.set_nodelay(true)?;
        let mut stream = if url.secure {
            let connector = tokio_rustls::TlsConnector::from(Arc::new(self.tls_config()?));
            let name =
                rustls::pki_types::ServerName::try_from(url.host.clone()).map_err(Error::tls)?;
            ClientStream::Tls(Box::new(connector.connect(name, tcp).await?))
        } else {
            ClientStream::Plain(tcp)
        };
        let request = ClientRequest {
            host: url.host_header(),
            target: url.target.clone(),
            key: generate_key(rand::random()),
            protocols: self.protocols,
            deflate: self.config.deflate,
            headers: self.headers,
        };
        stream.write_all(&request.encode()).await?;
        let mut buf = BytesMut::with_capacity(1024);
        let (response, used) = loop {
            if let Some(parsed) = parse_response(&buf, self.config.limits.max_handshake_bytes)? {
                break parsed;
            }
            if stream.read_buf(&mut buf).await? == 0 {
                return Err(
                    HandshakeError::Malformed("connection closed during the handshake").into(),
                );
            }
        };
        let _ = buf.split_to(used);
        let (protocol, deflate) = response.validate(&request)?;
        let negotiated = Negotiated { protocol, deflate };
        Ok(WebSocket::from_upgraded(
            stream,
            Role::Client,
            &self.config,
            negotiated,
            buf,
        ))
    }

    fn tls_config(&self) -> Result<rustls::ClientConfig, Error> {
        client_config(self.ca_file.as_deref(), vec![b"http/1.1".to_vec()])
    }
}

/// A parsed `ws://` or `wss://` URL.
#[derive(Debug, PartialEq, Eq)]
struct WsUrl {
    secure: bool,
    host: String,
    port: u16,
    target: String,
}

impl WsUrl {
    fn parse(url: &str) -> Result<Self, Error> {
        let (secure, rest) = if let Some(rest) = url.strip_prefix("ws://") {
            (false, rest)
        } else if let Some(rest) = url.strip_prefix("wss://") {
            (true, rest)
        } else {
            return Err(Error::url("scheme must be ws:// or wss://"));
        };
        let (authority, target) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_owned()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_owned()),
        };
        let target = target.split('#').next().unwrap_or("/").to_owned();
        let default_port = if secure { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| Error::url("unclosed [ in host"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() || authority.contains('@') {
            return Err(Error::url("missing host, or credentials in the URL"));
        }
        let port = match port {
            Some(p) => p
                .parse()
                .map_err(|_| Error::url(format!("invalid port {p:?}")))?,
            None => default_port,
        };
        Ok(WsUrl {
            secure,
            host: host.to_owned(),
            port,
            target,
        })
    }

    fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match (self.secure, self.port) {
            (false, 80) | (true, 443) => host,
            (_, port) => format!("{host}:{port}"),
        }
    }
}

impl AsyncRead for ClientStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ClientStream::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            ClientStream::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            ClientStream::Tls(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            ClientStream::Plain(s) => s.is_write_vectored(),
            ClientStream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_flush(cx),
            ClientStream::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            ClientStream::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let u = WsUrl::parse("ws://example.com").unwrap();
        assert_eq!(
            (u.secure, u.host.as_str(), u.port, u.target.as_str()),
            (false, "example.com", 80, "/")
        );
        let u = WsUrl::parse("wss://h:8443/a/b?c=1#frag").unwrap();
        assert_eq!(
            (u.secure, u.port, u.target.as_str(), u.host_header()),
            (true, 8443, "/a/b?c=1", "h:8443".into())
        );
        let u = WsUrl::parse("ws://[::1]:9001?x").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.target.as_str(), u.host_header()),
            ("::1", 9001, "/?x", "[::1]:9001".into())
        );
        for bad in ["http://x", "ws://", "ws://h:port", "ws://u@h/", "ws://[::1"] {
            assert!(WsUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
