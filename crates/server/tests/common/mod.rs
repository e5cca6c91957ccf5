//! What the HTTP server tests share: a test application, a server runner,
//! and an HTTP/2 client stream usable as a WebSocket's byte stream.
#![allow(dead_code)]

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use h2::client::SendRequest;
use h2::{RecvStream, SendStream};
use http::{Method, Request, Response};
use http_body_util::BodyExt;
use hyper::service::service_fn;
use pushwire::proto::deflate::{parse_extensions, validate_response, DeflateConfig};
use pushwire::proto::Role;
use pushwire::server::ServerStats;
use pushwire::upgrade::{Http2Stream, UpgradedStream};
use pushwire::ws::Negotiated;
use pushwire::RequestBody;
use pushwire::{
    Body, ConnectionInfo, Message, Server, Shutdown, Upgrade, WebSocket, WebSocketConfig,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long any single step of a test may take.
pub const LIMIT: Duration = Duration::from_secs(10);

/// The test application:
/// - `/echo`: WebSocket echo, *require* semantics, subprotocol `chat`;
///   closes with 1001 when the server shuts down (1012 for a restart);
/// - `/accept`: a page for plain requests, WebSocket echo otherwise;
/// - `/stubborn`: a WebSocket that ignores shutdown;
/// - `/info`: the request's HTTP version and the connection's ALPN;
/// - `/healthz`: `ok`;
/// - `/mirror`: the request's body, read whole, as the response's;
///   anything else 404.
pub async fn route(mut req: Request<RequestBody>) -> Result<Response<Body>, Infallible> {
    let info = req.extensions().get::<ConnectionInfo>().cloned();
    let response = match req.uri().path() {
        "/echo" => match Upgrade::require(&mut req) {
            Ok(upgrade) => upgrade
                .protocols(["chat"])
                .on_upgrade(move |ws| echo(ws, info)),
            Err(rejection) => rejection.into_response(),
        },
        "/accept" => match Upgrade::from_request(&mut req) {
            Ok(Some(upgrade)) => upgrade.on_upgrade(move |ws| echo(ws, info)),
            Ok(None) => Response::new(Body::from("a plain page")),
            Err(rejection) => rejection.into_response(),
        },
        "/stubborn" => match Upgrade::require(&mut req) {
            Ok(upgrade) => upgrade.on_upgrade(|ws| echo(ws, None)),
            Err(rejection) => rejection.into_response(),
        },
        "/info" => {
            let alpn = info
                .as_ref()
                .and_then(|i| i.alpn())
                .map(|a| String::from_utf8_lossy(a).into_owned());
            Response::new(Body::from(format!("{:?} {:?}", req.version(), alpn)))
        }
        "/healthz" => Response::new(Body::from("ok")),
        "/mirror" => match req.into_body().collect().await {
            Ok(body) => Response::new(Body::from(body.to_bytes())),
            Err(e) => {
                let mut response = Response::new(Body::from(e.to_string()));
                *response.status_mut() = http::StatusCode::BAD_REQUEST;
                response
            }
        },
        _ => {
            let mut response = Response::new(Body::from("not found"));
            *response.status_mut() = http::StatusCode::NOT_FOUND;
            response
        }
    };
    Ok(response)
}

async fn echo(mut ws: WebSocket<UpgradedStream>, info: Option<ConnectionInfo>) {
    let shutdown = async {
        match &info {
            Some(info) => info.shutting_down().await,
            None => std::future::pending().await,
        }
    };
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            message = ws.recv() => match message {
                Some(Ok(message)) if message.is_data() => {
                    if ws.send(message).await.is_err() {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                _ => return,
            },
            () = &mut shutdown => {
                let reason = info.as_ref().and_then(ConnectionInfo::shutdown);
                let _ = ws.close(Some(reason.unwrap_or_default().close_frame())).await;
                return;
            }
        }
    }
}

/// A running test server.
pub struct TestServer {
    pub addr: SocketAddr,
    pub stats: Arc<ServerStats>,
    stop: Option<oneshot::Sender<Shutdown>>,
    pub task: JoinHandle<io::Result<()>>,
}

impl TestServer {
    /// Starts serving [`route`] on 127.0.0.1, port 0.
    pub async fn start(configure: impl FnOnce(Server) -> Server) -> TestServer {
        let server = configure(Server::bind("127.0.0.1:0").await.unwrap());
        let addr = server.local_addr().unwrap();
        let stats = server.stats();
        let (stop, stopped) = oneshot::channel::<Shutdown>();
        let task = tokio::spawn(server.serve_with_shutdown(service_fn(route), async {
            stopped.await.unwrap_or_default()
        }));
        TestServer {
            addr,
            stats,
            stop: Some(stop),
            task,
        }
    }

    /// Sends the shutdown signal.
    pub fn stop(&mut self) {
        self.shut_down(Shutdown::Stop);
    }

    /// Sends the shutdown signal with this reason.
    pub fn shut_down(&mut self, reason: Shutdown) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(reason);
        }
    }

    /// Waits until `check` holds for the counters.
    pub async fn wait_for(
        &self,
        what: &str,
        check: impl Fn(&pushwire::server::StatsSnapshot) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + LIMIT;
        loop {
            let now = self.stats.snapshot();
            if check(&now) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}: {now:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Sends `raw` on a fresh TCP connection and returns the response head.
pub async fn raw_request(addr: SocketAddr, raw: &str) -> String {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(raw.as_bytes()).await.unwrap();
    read_head(&mut tcp).await
}

/// Reads a response head (through the blank line).
pub async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> String {
    let mut head = Vec::new();
    let read = async {
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8];
            if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                break;
            }
            head.push(byte[0]);
        }
    };
    tokio::time::timeout(LIMIT, read).await.unwrap();
    String::from_utf8(head).unwrap()
}

/// Sends each message and expects it back: a short text, and a binary
/// message that does not compress, so that it spans many reads (over
/// HTTP/2, many DATA frames) even with permessage-deflate.
pub async fn round_trip<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocket<S>, tag: &str) {
    let mut state = 0x2545_f491_u32;
    let noise: Vec<u8> = (0..70_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect();
    let messages = [
        Message::text(format!("hello from {tag}")),
        Message::binary(noise),
    ];
    for message in messages {
        ws.send(message.clone()).await.unwrap();
        let echoed = tokio::time::timeout(LIMIT, ws.recv())
            .await
            .expect("echo in time")
            .expect("a message")
            .expect("no error");
        assert_eq!(echoed, message, "{tag}");
    }
}

/// Opens an HTTP/2 connection over `io` and waits until it serves a
/// request (so the server's SETTINGS have arrived).
pub async fn h2_client<IO>(io: IO) -> SendRequest<Bytes>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (client, connection) = h2::client::handshake(io).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut client = client.ready().await.unwrap();
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
    let offer = pushwire::proto::deflate::client_offer(&deflate);
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
