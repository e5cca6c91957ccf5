//! The generator's WebSockets: over HTTP/1.1 `Upgrade` with pushwire's
//! client, or over HTTP/2 extended CONNECT (RFC 8441) on connections of
//! the `h2` crate.

use std::net::SocketAddr;

use bytes::Bytes;
use h2::client::SendRequest;
use http::{Method, Request, StatusCode};
use pushwire::proto::Role;
use pushwire::upgrade::Http2Stream;
use pushwire::ws::Negotiated;
use pushwire::{ClientBuilder, Message, WebSocket, WebSocketConfig};
use tokio::io::{AsyncRead, AsyncWrite, BufReader};
use tokio::net::TcpStream;

use crate::load_args::{LoadArgs, Transport, Window};

/// The WebSocket's byte stream: a TCP connection after `101` (HTTP/1.1),
/// or one HTTP/2 stream.
pub enum Socket {
    H1(WebSocket<pushwire::ws::ClientStream>),
    H2(WebSocket<Http2Stream>),
}

impl Socket {
    /// Sends `message` and awaits the next data message: its echo.
    pub async fn echo(&mut self, message: Message) -> Result<Message, String> {
        async fn round_trip<S: AsyncRead + AsyncWrite + Unpin>(
            ws: &mut WebSocket<S>,
            message: Message,
        ) -> Result<Message, String> {
            ws.send(message).await.map_err(|e| e.to_string())?;
            loop {
                match ws.recv().await {
                    Some(Ok(reply)) if reply.is_data() => return Ok(reply),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e.to_string()),
                    None => return Err("the server closed the WebSocket".to_owned()),
                }
            }
        }
        match self {
            Socket::H1(ws) => round_trip(ws, message).await,
            Socket::H2(ws) => round_trip(ws, message).await,
        }
    }
}

/// How much one read of an h2 client connection may take.
const READ_CHUNK: usize = 32 << 10;

/// WebSocket settings for the generator: no permessage-deflate offered.
fn client_config() -> WebSocketConfig {
    WebSocketConfig::default().deflate(None)
}

/// Opens `load.sockets` WebSockets over `transport`.
pub async fn open_sockets(load: &LoadArgs, transport: Transport) -> Result<Vec<Socket>, String> {
    let mut sockets = Vec::with_capacity(load.sockets);
    match transport {
        Transport::H1 => {
            let url = format!("ws://{}/echo", load.addr);
            for _ in 0..load.sockets {
                let ws = ClientBuilder::new(url.clone())
                    .config(client_config())
                    .connect()
                    .await
                    .map_err(|e| format!("h1 connect: {e}"))?;
                sockets.push(Socket::H1(ws));
            }
        }
        Transport::H2 { connections } => {
            let mut clients = Vec::with_capacity(connections);
            for _ in 0..connections.min(load.sockets) {
                clients.push(h2_connection(load.addr, load.window).await?);
            }
            let count = clients.len();
            for i in 0..load.sockets {
                let client = &mut clients[i % count];
                sockets.push(Socket::H2(h2_websocket(client).await?));
            }
        }
    }
    Ok(sockets)
}

/// An h2c connection by prior knowledge, once the server's SETTINGS
/// (with SETTINGS_ENABLE_CONNECT_PROTOCOL) have arrived.
async fn h2_connection(addr: SocketAddr, window: Window) -> Result<SendRequest<Bytes>, String> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    // Reads of up to 32 KiB, as a browser's network stack makes and as
    // pushwire's server and HTTP/1.1 client do: h2 alone reads into a
    // buffer of 8 KiB, a 16 KiB message then costing three `recvfrom`s
    // where the HTTP/1.1 client makes one.
    let tcp = BufReader::with_capacity(READ_CHUNK, tcp);
    let mut builder = h2::client::Builder::new();
    if window == Window::Browser {
        builder
            .initial_window_size(6 << 20)
            .initial_connection_window_size(15 << 20);
    }
    let (client, connection) = builder
        .handshake::<_, Bytes>(tcp)
        .await
        .map_err(|e| format!("h2 handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut client = client.ready().await.map_err(|e| e.to_string())?;
    // A first request makes sure the server's SETTINGS have been applied.
    let request = Request::get(format!("http://{addr}/healthz"))
        .body(())
        .map_err(|e| e.to_string())?;
    let (response, _) = client
        .send_request(request, true)
        .map_err(|e| e.to_string())?;
    let response = response.await.map_err(|e| format!("GET /healthz: {e}"))?;
    if response.status() != StatusCode::OK {
        return Err(format!("GET /healthz: {}", response.status()));
    }
    if !client.is_extended_connect_protocol_enabled() {
        return Err("the server did not send SETTINGS_ENABLE_CONNECT_PROTOCOL".to_owned());
    }
    Ok(client)
}

/// Opens a WebSocket by extended CONNECT (`:protocol = websocket`).
async fn h2_websocket(client: &mut SendRequest<Bytes>) -> Result<WebSocket<Http2Stream>, String> {
    let request = Request::builder()
        .method(Method::CONNECT)
        .uri("http://localhost/echo")
        .extension(h2::ext::Protocol::from_static("websocket"))
        .header("sec-websocket-version", "13")
        .body(())
        .map_err(|e| e.to_string())?;
    let mut client = client.clone().ready().await.map_err(|e| e.to_string())?;
    let (response, send) = client
        .send_request(request, false)
        .map_err(|e| format!("extended CONNECT: {e}"))?;
    let response = response
        .await
        .map_err(|e| format!("extended CONNECT: {e}"))?;
    if response.status() != StatusCode::OK {
        return Err(format!("extended CONNECT: {}", response.status()));
    }
    let negotiated = Negotiated {
        protocol: None,
        deflate: None,
    };
    Ok(WebSocket::from_http2(
        Http2Stream::new(send, response.into_body()),
        Role::Client,
        &client_config(),
        negotiated,
    ))
}
