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
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
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
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service)
                        .await;
                });
            }
        });
        Backend { addr, calls, task }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
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
                            "static_headers": {"X-Hub": "pushwire"}}
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
