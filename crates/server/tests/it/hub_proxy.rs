//! The backend proxy end to end: a real backend (a hyper server on
//! loopback, started by each test) decides connects, subscriptions,
//! publications, RPC calls and refreshes of WebSocket clients speaking
//! the JSON protocol; a backend that is down, slow or talks garbage gets
//! the client error 100, in bounded time, and the connection goes on.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use pushwire::hub::{Config, Hub};
use pushwire::ws::ClientStream;
use pushwire::{ClientBuilder, Message, WebSocket};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::common::http1::Chunk;
use crate::common::hub::serve;
use crate::common::server::TestServer;
use crate::common::LIMIT;

/// What the backend answers.
enum Answer {
    Json(Value),
    Status(u16),
    Garbage,
    /// The JSON, after a wait.
    Slow(Duration, Value),
}

/// One call the backend received.
#[derive(Debug, Clone)]
struct Call {
    path: String,
    headers: HeaderMap,
    body: Value,
}

type Handler = dyn Fn(&str, &Value, &HeaderMap) -> Answer + Send + Sync;

/// A backend on 127.0.0.1; stopped when dropped.
struct Backend {
    addr: SocketAddr,
    calls: Arc<Mutex<Vec<Call>>>,
    task: JoinHandle<()>,
    tls: bool,
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Backend {
    async fn start(
        handler: impl Fn(&str, &Value, &HeaderMap) -> Answer + Send + Sync + 'static,
    ) -> Backend {
        Backend::start_with(handler, None).await
    }

    /// The backend over TLS with `acceptor` (its URLs are `https://`).
    async fn start_with(
        handler: impl Fn(&str, &Value, &HeaderMap) -> Answer + Send + Sync + 'static,
        acceptor: Option<tokio_rustls::TlsAcceptor>,
    ) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let tls = acceptor.is_some();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let recorded = calls.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let handler = handler.clone();
                let recorded = recorded.clone();
                let service = service_fn(move |req: Request<Incoming>| {
                    let handler = handler.clone();
                    let recorded = recorded.clone();
                    async move {
                        let path = req.uri().path().to_string();
                        let headers = req.headers().clone();
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        recorded.lock().unwrap().push(Call {
                            path: path.clone(),
                            headers: headers.clone(),
                            body: body.clone(),
                        });
                        let answer = handler(&path, &body, &headers);
                        let (status, text) = match answer {
                            Answer::Json(v) => (200, v.to_string()),
                            Answer::Status(s) => (s, "{}".to_string()),
                            Answer::Garbage => (200, "<html>oops</html>".to_string()),
                            Answer::Slow(wait, v) => {
                                tokio::time::sleep(wait).await;
                                (200, v.to_string())
                            }
                        };
                        let mut response = Response::new(Full::new(Bytes::from(text)));
                        *response.status_mut() = StatusCode::from_u16(status).unwrap();
                        Ok::<_, Infallible>(response)
                    }
                });
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let http = hyper::server::conn::http1::Builder::new();
                    match acceptor {
                        None => {
                            let _ = http.serve_connection(TokioIo::new(tcp), service).await;
                        }
                        Some(acceptor) => {
                            if let Ok(tls) = acceptor.accept(tcp).await {
                                let _ = http.serve_connection(TokioIo::new(tls), service).await;
                            }
                        }
                    }
                });
            }
        });
        Backend {
            addr,
            calls,
            task,
            tls,
        }
    }

    fn url(&self, path: &str) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.addr)
    }

    fn calls(&self, path: &str) -> Vec<Call> {
        let calls = self.calls.lock().unwrap();
        calls.iter().filter(|c| c.path == path).cloned().collect()
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A hub whose proxies post to `endpoint` (`/connect`, `/refresh`,
/// `/subscribe`, `/publish`, `/rpc`); `client` is merged into `client.*`.
fn hub(endpoint: &dyn Fn(&str) -> String, client: Value) -> Hub {
    let mut config = json!({
        "client": {
            "proxy": {
                "connect": {"enabled": true, "endpoint": endpoint("/connect"),
                            "http_headers": ["Cookie"], "timeout": "300ms"},
                "refresh": {"enabled": true, "endpoint": endpoint("/refresh"), "timeout": "300ms"}
            }
        },
        "channel": {
            "proxy": {
                "subscribe": {"endpoint": endpoint("/subscribe"), "timeout": "300ms"},
                "publish": {"endpoint": endpoint("/publish"), "timeout": "300ms",
                            "http": {"static_headers": {"X-Hub": "pushwire"}}}
            },
            "namespaces": [{"name": "px", "subscribe_proxy_enabled": true,
                            "publish_proxy_enabled": true}]
        },
        "rpc": {
            "proxy": {"endpoint": endpoint("/rpc"), "timeout": "300ms"},
            "without_namespace": {"proxy_enabled": true}
        }
    });
    if let (Some(base), Some(extra)) = (config["client"].as_object_mut(), client.as_object()) {
        for (k, v) in extra {
            base.insert(k.clone(), v.clone());
        }
    }
    let config: Config = serde_json::from_value(config).unwrap();
    Hub::start(config).unwrap()
}

/// A WebSocket client speaking the JSON protocol.
struct Conn {
    ws: WebSocket<ClientStream>,
    pushes: Vec<Value>,
}

impl Conn {
    async fn open(server: &TestServer<()>, cookie: Option<&str>) -> Conn {
        let url = format!("ws://{}/connection/websocket", server.addr);
        let mut builder = ClientBuilder::new(&url);
        if let Some(cookie) = cookie {
            builder = builder.header("Cookie", cookie);
        }
        Conn {
            ws: builder.connect().await.unwrap(),
            pushes: Vec::new(),
        }
    }

    /// The next message that is not a ping (pings are answered); `Err`
    /// with the close code when the hub closes.
    async fn next(&mut self) -> Result<Value, u16> {
        loop {
            if !self.pushes.is_empty() {
                return Ok(self.pushes.remove(0));
            }
            let message = tokio::time::timeout(LIMIT, self.ws.recv())
                .await
                .expect("a message in time");
            match message {
                Some(Ok(Message::Text(text))) => {
                    for line in text.as_str().lines() {
                        let v: Value = serde_json::from_str(line).unwrap();
                        if v == json!({}) {
                            self.ws.send(Message::text("{}")).await.unwrap();
                        } else {
                            self.pushes.push(v);
                        }
                    }
                }
                Some(Ok(Message::Close(Some(frame)))) => return Err(frame.code.0),
                Some(Ok(Message::Close(None))) | None | Some(Err(_)) => return Err(0),
                Some(Ok(_)) => {}
            }
        }
    }

    /// Sends `command` with `id` and waits for its reply (pushes meanwhile
    /// are kept for [`Conn::push`]).
    async fn call(&mut self, id: u64, mut command: Value) -> Result<Value, u16> {
        command["id"] = json!(id);
        self.ws
            .send(Message::text(command.to_string()))
            .await
            .unwrap();
        let mut kept = Vec::new();
        loop {
            let v = self.next().await?;
            if v["id"] == json!(id) {
                self.pushes.splice(0..0, kept);
                return Ok(v);
            }
            kept.push(v);
        }
    }

    async fn push(&mut self) -> Value {
        self.next().await.expect("a push")
    }
}

/// The backend most tests use: users by cookie, `px:secret` refused, the
/// publications upper-cased, RPC methods for each failure.
fn app(path: &str, body: &Value, headers: &HeaderMap) -> Answer {
    match path {
        "/connect" => match headers.get("cookie").and_then(|v| v.to_str().ok()) {
            Some("session=alice") => Answer::Json(json!({"result": {"user": "alice",
                "data": {"hello": "alice"}}})),
            Some("session=banned") => {
                Answer::Json(json!({"disconnect": {"code": 4501, "reason": "banned"}}))
            }
            _ => Answer::Json(
                json!({"error": {"code": 1001, "message": "log in first", "temporary": false}}),
            ),
        },
        "/subscribe" if body["channel"] == "px:secret" => {
            Answer::Json(json!({"error": {"code": 4003, "message": "not yours"}}))
        }
        "/subscribe" => Answer::Json(json!({"result": {"data": {"welcome": body["user"]}}})),
        "/publish" => {
            let text = body["data"]["text"]
                .as_str()
                .unwrap_or_default()
                .to_uppercase();
            Answer::Json(json!({"result": {"data": {"text": text, "by": body["user"]}}}))
        }
        "/rpc" => match body["method"].as_str().unwrap_or_default() {
            "whoami" => Answer::Json(json!({"result": {"data": {"user": body["user"],
                "transport": body["transport"], "args": body["data"]}}})),
            "slow" => Answer::Slow(Duration::from_secs(3), json!({"result": {}})),
            "status" => Answer::Status(500),
            "garbage" => Answer::Garbage,
            _ => Answer::Json(json!({"error": {"code": 404, "message": "no such method"}})),
        },
        _ => Answer::Status(404),
    }
}

#[tokio::test]
async fn connect_is_decided_by_the_backend_with_the_forwarded_cookie() {
    let backend = Backend::start(app).await;
    let hub = hub(&|p| backend.url(p), json!({}));
    let server = serve(&hub).await;

    // Allowed: the user is the backend's, its data reaches the client.
    let mut alice = Conn::open(&server, Some("session=alice")).await;
    let reply = alice
        .call(1, json!({"connect": {"name": "js"}}))
        .await
        .unwrap();
    assert_eq!(
        reply["connect"]["data"],
        json!({"hello": "alice"}),
        "{reply}"
    );
    let call = &backend.calls("/connect")[0];
    assert_eq!(call.headers["cookie"], "session=alice");
    assert_eq!(call.headers["content-type"], "application/json");
    assert_eq!(call.body["transport"], "websocket");
    assert_eq!(call.body["protocol"], "json");
    assert_eq!(call.body["encoding"], "json");
    assert_eq!(call.body["name"], "js");
    assert_eq!(
        call.body["client"], reply["connect"]["client"],
        "the client id"
    );
    // RPC answered by the backend, which sees the user.
    let reply = alice
        .call(2, json!({"rpc": {"method": "whoami", "data": [1, 2]}}))
        .await
        .unwrap();
    assert_eq!(
        reply["rpc"]["data"],
        json!({"user": "alice", "transport": "websocket", "args": [1, 2]})
    );
    let reply = alice
        .call(3, json!({"rpc": {"method": "nope"}}))
        .await
        .unwrap();
    assert_eq!(reply["error"]["code"], 404, "{reply}");

    // Refused with an error: the client gets it and may retry.
    let mut stranger = Conn::open(&server, None).await;
    let reply = stranger.call(1, json!({"connect": {}})).await.unwrap();
    assert_eq!(
        reply["error"],
        json!({"code": 1001, "message": "log in first"})
    );
    assert!(backend.calls("/connect")[1].headers.get("cookie").is_none());

    // Refused with a disconnect: the close code is the backend's.
    let mut banned = Conn::open(&server, Some("session=banned")).await;
    assert_eq!(banned.call(1, json!({"connect": {}})).await, Err(4501));
}

#[tokio::test]
async fn subscribe_and_publish_go_through_the_backend() {
    let backend = Backend::start(app).await;
    let hub = hub(&|p| backend.url(p), json!({}));
    let server = serve(&hub).await;
    let mut alice = Conn::open(&server, Some("session=alice")).await;
    alice.call(1, json!({"connect": {}})).await.unwrap();

    let reply = alice
        .call(2, json!({"subscribe": {"channel": "px:secret"}}))
        .await
        .unwrap();
    assert_eq!(
        reply["error"],
        json!({"code": 4003, "message": "not yours"})
    );
    let reply = alice
        .call(
            3,
            json!({"subscribe": {"channel": "px:room", "data": {"hi": 1}}}),
        )
        .await
        .unwrap();
    assert_eq!(
        reply["subscribe"]["data"],
        json!({"welcome": "alice"}),
        "{reply}"
    );
    let sub = &backend.calls("/subscribe")[1];
    assert_eq!(sub.body["user"], "alice");
    assert_eq!(sub.body["data"], json!({"hi": 1}));

    // The backend rewrites the publication; subscribers get its version.
    let reply = alice
        .call(
            4,
            json!({"publish": {"channel": "px:room", "data": {"text": "hi"}}}),
        )
        .await
        .unwrap();
    assert_eq!(reply["publish"], json!({}), "{reply}");
    let push = alice.push().await;
    assert_eq!(
        push["push"]["pub"]["data"],
        json!({"text": "HI", "by": "alice"}),
        "{push}"
    );
    assert_eq!(backend.calls("/publish")[0].headers["x-hub"], "pushwire");
}

#[tokio::test]
async fn a_backend_down_slow_or_garbled_gets_code_100_and_the_connection_goes_on() {
    // Down: a port nobody listens on.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = closed.local_addr().unwrap();
    drop(closed);
    let hub_down = hub(&|p| format!("http://{dead}{p}"), json!({}));
    let server = serve(&hub_down).await;
    let mut client = Conn::open(&server, Some("session=alice")).await;
    let reply = client.call(1, json!({"connect": {}})).await.unwrap();
    assert_eq!(reply["error"]["code"], 100, "{reply}");
    assert_eq!(reply["error"]["temporary"], true, "{reply}");

    let backend = Backend::start(app).await;
    let hub = hub(&|p| backend.url(p), json!({}));
    let server = serve(&hub).await;
    let mut alice = Conn::open(&server, Some("session=alice")).await;
    alice.call(1, json!({"connect": {}})).await.unwrap();
    // Slow past the 300 ms timeout: 100 well before the backend answers.
    let started = tokio::time::Instant::now();
    let reply = alice
        .call(2, json!({"rpc": {"method": "slow"}}))
        .await
        .unwrap();
    assert_eq!(reply["error"]["code"], 100, "{reply}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // Non-200 and garbage: 100 as well.
    for (id, method) in [(3, "status"), (4, "garbage")] {
        let reply = alice
            .call(id, json!({"rpc": {"method": method}}))
            .await
            .unwrap();
        assert_eq!(reply["error"]["code"], 100, "{method}: {reply}");
    }
    // The connection still works.
    let reply = alice
        .call(5, json!({"rpc": {"method": "whoami"}}))
        .await
        .unwrap();
    assert_eq!(reply["rpc"]["data"]["user"], "alice", "{reply}");
}

#[tokio::test]
async fn the_refresh_proxy_extends_a_connection_then_ends_it() {
    let expire_at = now_secs() + 2;
    let refreshes = Arc::new(AtomicUsize::new(0));
    let counted = refreshes.clone();
    let backend = Backend::start(move |path, body, _| match path {
        "/connect" => Answer::Json(json!({"result": {"user": "bob", "expire_at": expire_at}})),
        // The first refresh extends by 3 s, the next one says expired.
        "/refresh" if body["user"] == "bob" => {
            if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                Answer::Json(json!({"result": {"expire_at": now_secs() + 3}}))
            } else {
                Answer::Json(json!({"result": {"expired": true}}))
            }
        }
        _ => app(path, body, &HeaderMap::new()),
    })
    .await;
    let hub = hub(
        &|p| backend.url(p),
        json!({"ping_interval": "1s", "pong_timeout": "800ms", "expired_close_delay": "1s"}),
    );
    let server = serve(&hub).await;
    let mut bob = Conn::open(&server, None).await;
    let connected = tokio::time::Instant::now();
    let reply = bob.call(1, json!({"connect": {}})).await.unwrap();
    // The hub refreshes it, not the client.
    assert_eq!(reply["connect"].get("expires"), None, "{reply}");
    // Answering pings until the hub closes it.
    let mut id = 2;
    let code = loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        match bob.call(id, json!({"rpc": {"method": "whoami"}})).await {
            Ok(reply) => assert_eq!(reply["rpc"]["data"]["user"], "bob"),
            Err(code) => break code,
        }
        id += 1;
    };
    assert_eq!(code, 3005, "closed as expired by the second refresh");
    assert_eq!(refreshes.load(Ordering::SeqCst), 2);
    // Alive past the first expire_at and its grace: the first refresh
    // extended it.
    assert!(
        connected.elapsed() > Duration::from_secs(3),
        "{:?}",
        connected.elapsed()
    );
}

/// The first line of a `uni_http_stream` opened with `cookie`.
async fn uni_first_line(server: &TestServer<()>, cookie: &str) -> Value {
    let mut conn = server.http1().await;
    conn.send(format!(
        "POST /connection/uni_http_stream HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n\
         Content-Length: 2\r\n\r\n{{}}"
    ))
    .await;
    let head = conn.head().await.expect("a response");
    assert_eq!(head.status, 200, "{head:?}");
    let mut pending = String::new();
    loop {
        if let Some(at) = pending.find('\n') {
            return serde_json::from_str(&pending[..at]).unwrap();
        }
        match tokio::time::timeout(LIMIT, conn.chunk())
            .await
            .expect("in time")
        {
            Some(Chunk::Data(data)) => pending.push_str(std::str::from_utf8(&data).unwrap()),
            other => panic!("the stream ended: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_unidirectional_client_is_let_in_by_the_backend_or_told_3004() {
    let backend = Backend::start(app).await;
    let hub_up = hub(&|p| backend.url(p), json!({}));
    let server = serve(&hub_up).await;
    let connect = uni_first_line(&server, "session=alice").await;
    assert_eq!(
        connect["connect"]["data"],
        json!({"hello": "alice"}),
        "{connect}"
    );
    let call = &backend.calls("/connect")[0];
    assert_eq!(call.body["transport"], "uni_http_stream");
    assert_eq!(call.headers["cookie"], "session=alice");

    // A unidirectional client cannot act on an error reply: 3004.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = closed.local_addr().unwrap();
    drop(closed);
    let hub_down = hub(&|p| format!("http://{dead}{p}"), json!({}));
    let server = serve(&hub_down).await;
    let disconnect = uni_first_line(&server, "session=alice").await;
    assert_eq!(disconnect["disconnect"]["code"], 3004, "{disconnect}");
}

/// A TLS acceptor with a certificate for 127.0.0.1, and the certificate's PEM.
fn tls_acceptor() -> (tokio_rustls::TlsAcceptor, String) {
    let generated = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let cert = generated.cert.der().clone();
    let key =
        rustls::pki_types::PrivateKeyDer::try_from(generated.key_pair.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    (
        tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        generated.cert.pem(),
    )
}

#[tokio::test]
async fn an_https_backend_is_verified_against_the_configured_ca() {
    let (acceptor, ca) = tls_acceptor();
    let backend = Backend::start_with(app, Some(acceptor)).await;
    let trusting = |ca: &str| {
        let config = json!({
            "client": {"proxy": {"connect": {
                "enabled": true, "endpoint": backend.url("/connect"),
                "http_headers": ["Cookie"], "http": {"tls": {"server_ca_pem": ca}}}}}
        });
        Hub::start(serde_json::from_value(config).unwrap()).unwrap()
    };
    let hub_trusting = trusting(&ca);
    let server = serve(&hub_trusting).await;
    let mut alice = Conn::open(&server, Some("session=alice")).await;
    let reply = alice.call(1, json!({"connect": {}})).await.unwrap();
    assert_eq!(
        reply["connect"]["data"],
        json!({"hello": "alice"}),
        "{reply}"
    );

    // Without the CA, the certificate is not trusted: 100, and no call
    // reached the backend's handler.
    let hub_wary = trusting("");
    let server = serve(&hub_wary).await;
    let mut bob = Conn::open(&server, Some("session=alice")).await;
    let reply = bob.call(1, json!({"connect": {}})).await.unwrap();
    assert_eq!(reply["error"]["code"], 100, "{reply}");
    assert_eq!(backend.calls("/connect").len(), 1);
}

#[tokio::test]
async fn long_poll_and_sse_connections_forward_their_request_headers() {
    let backend = Backend::start(app).await;
    let hub = hub(&|p| backend.url(p), json!({}));
    let server = serve(&hub).await;

    let connect = r#"{"id":1,"connect":{}}"#;
    let mut conn = server.http1().await;
    conn.send(format!(
        "POST /connection/long_poll HTTP/1.1\r\nHost: x\r\nCookie: session=alice\r\n\
         Content-Length: {}\r\n\r\n{connect}",
        connect.len()
    ))
    .await;
    let response = conn.response().await;
    assert_eq!(response.status, 200, "{response:?}");
    let reply: Value = response
        .text()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["id"] == 1)
        .expect("the connect reply");
    assert_eq!(
        reply["connect"]["data"],
        json!({"hello": "alice"}),
        "{reply}"
    );

    let query = "cf_connect=%7B%22id%22%3A1%2C%22connect%22%3A%7B%7D%7D";
    let mut conn = server.http1().await;
    conn.send(format!(
        "GET /connection/sse?{query} HTTP/1.1\r\nHost: x\r\nCookie: session=alice\r\n\r\n"
    ))
    .await;
    let head = conn.head().await.expect("a response");
    assert_eq!(head.status, 200, "{head:?}");
    let mut seen = String::new();
    while !seen.contains("\"connect\"") {
        match tokio::time::timeout(LIMIT, conn.chunk())
            .await
            .expect("in time")
        {
            Some(Chunk::Data(data)) => seen.push_str(std::str::from_utf8(&data).unwrap()),
            other => panic!("the stream ended: {other:?}"),
        }
    }
    assert!(seen.contains(r#""hello":"alice""#), "{seen}");

    let calls = backend.calls("/connect");
    let transports: Vec<&Value> = calls.iter().map(|c| &c.body["transport"]).collect();
    assert_eq!(transports, [&json!("long_poll"), &json!("sse")]);
    assert!(calls.iter().all(|c| c.headers["cookie"] == "session=alice"));
}

#[tokio::test]
async fn emulated_headers_are_forwarded_where_listed_and_never_over_real_ones() {
    let backend = Backend::start(app).await;
    let config = json!({
        "client": {"proxy": {"connect": {
            "enabled": true, "endpoint": backend.url("/connect"),
            "http_headers": ["Cookie"], "emulated_headers": ["Cookie", "X-Tenant"],
            "http": {"static_headers": {"X-Hub": "pushwire"}}}}},
        "rpc": {
            "proxy": {"endpoint": backend.url("/rpc"), "emulated_headers": ["x-tenant", "x-hub"]},
            "without_namespace": {"proxy_enabled": true}
        }
    });
    let hub = Hub::start(serde_json::from_value(config).unwrap()).unwrap();
    let server = serve(&hub).await;
    let headers = json!({"cookie": "session=banned", "X-Tenant": "blue",
                         "X-Other": "dropped", "X-Hub": "forged"});

    // The upgrade's own cookie wins over the emulated one.
    let mut alice = Conn::open(&server, Some("session=alice")).await;
    let reply = alice
        .call(1, json!({"connect": {"headers": headers}}))
        .await
        .unwrap();
    assert_eq!(
        reply["connect"]["data"],
        json!({"hello": "alice"}),
        "{reply}"
    );
    let call = &backend.calls("/connect")[0];
    assert_eq!(call.headers["cookie"], "session=alice");
    assert_eq!(call.headers["x-tenant"], "blue");
    assert!(call.headers.get("x-other").is_none(), "{:?}", call.headers);
    assert_eq!(call.headers["x-hub"], "pushwire");

    // Each endpoint forwards its own list: the RPC endpoint takes the
    // tenant and, without a static header of that name, the client's X-Hub.
    alice
        .call(2, json!({"rpc": {"method": "whoami"}}))
        .await
        .unwrap();
    let call = &backend.calls("/rpc")[0];
    assert_eq!(call.headers["x-tenant"], "blue");
    assert_eq!(call.headers["x-hub"], "forged");
    assert!(call.headers.get("cookie").is_none(), "{:?}", call.headers);

    // Without a cookie on the upgrade, the emulated one is sent, since the
    // endpoint lists it.
    let mut mallory = Conn::open(&server, None).await;
    assert_eq!(
        mallory
            .call(
                1,
                json!({"connect": {"headers": {"Cookie": "session=banned"}}})
            )
            .await,
        Err(4501)
    );
    assert_eq!(
        backend.calls("/connect")[1].headers["cookie"],
        "session=banned"
    );

    // Headers that are not strings: the connect is a bad request (3501).
    let mut odd = Conn::open(&server, None).await;
    let reply = odd
        .call(1, json!({"connect": {"headers": {"X-Tenant": 5}}}))
        .await;
    assert_eq!(reply, Err(3501), "{reply:?}");
}

#[tokio::test]
async fn a_binary_encoding_backend_gets_and_gives_base64() {
    // Answers with the JSON `{"echo": <what the client sent>}` in base64.
    let backend = Backend::start(|_path: &str, body: &Value, _: &HeaderMap| {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let sent = b64
            .decode(body["b64data"].as_str().unwrap_or_default())
            .unwrap_or_default();
        let sent: Value = serde_json::from_slice(&sent).unwrap_or(Value::Null);
        let answer = json!({"echo": sent}).to_string();
        Answer::Json(json!({"result": {"b64data": b64.encode(answer)}}))
    })
    .await;
    let config = json!({
        "client": {"allow_anonymous_connect_without_token": true},
        "rpc": {
            "proxy": {"endpoint": backend.url("/rpc"), "binary_encoding": true},
            "without_namespace": {"proxy_enabled": true}}});
    let hub = Hub::start(serde_json::from_value(config).unwrap()).unwrap();
    let server = serve(&hub).await;
    let mut conn = Conn::open(&server, None).await;
    conn.call(1, json!({"connect": {}})).await.unwrap();
    let reply = conn
        .call(2, json!({"rpc": {"method": "m", "data": {"n": [1, 2]}}}))
        .await
        .unwrap();
    assert_eq!(
        reply["rpc"]["data"],
        json!({"echo": {"n": [1, 2]}}),
        "{reply}"
    );
    let call = &backend.calls("/rpc")[0];
    assert!(call.body.get("data").is_none(), "{}", call.body);
}
