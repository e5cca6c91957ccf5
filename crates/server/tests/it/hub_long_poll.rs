//! Long polling (`/connection/long_poll`) from the wire: a session opened
//! with the connect command, its commands posted to `/emulation`, its
//! output fetched by polls in numbered batches. A batch whose response
//! was lost comes again, byte for byte, to the next poll that still acks
//! the one before (no loss, no duplicate); a held poll answers as soon as
//! something is queued; a session left without polls expires and frees
//! its hub connection; an unknown session gets a disconnect push the
//! client reconnects on. A held poll gets its response head at once and
//! its body (one chunk) when the wait ends. Over HTTP/1.1 and HTTP/2.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use pushwire::hub::{Config, Hub, LongPollConfig};
use serde_json::{json, Value};
use tokio::net::TcpStream;

use crate::common::http1::{Chunk, Conn, Framing, Resp};
use crate::common::http2::{h2_handshake, h2_response};
use crate::common::hub::serve;
use crate::common::server::TestServer;
use crate::common::LIMIT;

const CONFIG: &str = r#"{
    "client": {
        "allow_anonymous_connect_without_token": true,
        "allowed_origins": ["https://app.example"]
    },
    "http_api": {"insecure": true},
    "channel": {"without_namespace": {
        "allow_subscribe_for_client": true, "allow_subscribe_for_anonymous": true,
        "history_size": 100, "history_ttl": "60s", "force_recovery": true
    }}
}"#;

const CONNECT: &str = r#"{"id":1,"connect":{}}"#;

fn start_hub(long_poll: LongPollConfig) -> Hub {
    let mut config: Config = serde_json::from_str(CONFIG).unwrap();
    config.long_poll = long_poll;
    Hub::start(config).unwrap()
}

/// Long-polling timeouts: the hold and the session timeout.
fn timeouts(hold: Duration, session_timeout: Duration) -> LongPollConfig {
    let mut config = LongPollConfig::default();
    config.hold = hold;
    config.session_timeout = session_timeout;
    config
}

/// The long-poll sessions open, as the hub's metrics count them.
async fn open_sessions(hub: &Hub) -> u64 {
    let text = hub.metrics_text(None).await;
    let line = text
        .lines()
        .find(|l| l.contains(r#"transport_connections{transport="long_poll"}"#))
        .unwrap_or_else(|| panic!("no long_poll gauge in {text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

/// Polls held long enough that only a publication ends them in a test.
fn long_hold() -> LongPollConfig {
    timeouts(Duration::from_secs(60), Duration::from_secs(120))
}

/// Waits until the hub counts `want` connections.
async fn connections(hub: &Hub, want: u64) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let now = hub.stats().await.unwrap().connections;
        if now == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{now} hub connections, not {want}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A POST of `body` to `path` on HTTP/1.1, and its response.
async fn post(conn: &mut Conn, path: &str, body: &str) -> Resp {
    conn.exchange(format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ))
    .await
}

/// A response body taken apart: its poll line (if any) and the
/// messages after it, parsed.
#[derive(Debug)]
struct Answer {
    poll: Option<Value>,
    messages: Vec<Value>,
}

fn answer(resp: &Resp) -> Answer {
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert!(resp.has_token("cache-control", "no-store"), "{resp:?}");
    let text = resp.text();
    assert!(text.is_empty() || text.ends_with('\n'), "{text:?}");
    let mut lines = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap());
    let first = lines.next();
    match first {
        Some(line) if line.get("poll").is_some() => Answer {
            poll: Some(line["poll"].clone()),
            messages: lines.collect(),
        },
        first => Answer {
            poll: None,
            messages: first.into_iter().chain(lines).collect(),
        },
    }
}

/// One long-poll client over a keep-alive HTTP/1.1 connection for its
/// polls and another for its commands.
struct Client {
    polls: Conn,
    commands: Conn,
    session: String,
    ack: u64,
}

impl Client {
    /// Opens a session: batch 1 holds the connect reply.
    async fn open(server: &TestServer<()>) -> Client {
        let mut polls = server.http1().await;
        let opened = answer(&post(&mut polls, "/connection/long_poll", CONNECT).await);
        let poll = opened.poll.expect("a poll line");
        assert_eq!(poll["seq"], 1);
        let session = poll["session"].as_str().unwrap().to_string();
        let reply = &opened.messages[0];
        assert_eq!(reply["id"], 1);
        assert_eq!(reply["connect"]["session"], session.as_str());
        assert_eq!(reply["connect"]["pong"], true);
        Client {
            polls,
            commands: server.http1().await,
            session,
            ack: 1,
        }
    }

    /// Posts `commands` to `/emulation` for this session.
    async fn command(&mut self, commands: &str) {
        let body = json!({"session": self.session, "node": "", "data": commands}).to_string();
        let resp = post(&mut self.commands, "/emulation", &body).await;
        assert_eq!(resp.status, 204, "{resp:?}");
    }

    fn poll_path(&self, ack: u64) -> String {
        format!("/connection/long_poll?session={}&ack={ack}", self.session)
    }

    /// Polls with `ack` and returns the raw response, the cursor untouched.
    async fn poll_raw(&mut self, ack: u64) -> Resp {
        let path = self.poll_path(ack);
        post(&mut self.polls, &path, "").await
    }

    /// Polls until a batch comes, checks it is the next one, acks it.
    async fn next_batch(&mut self) -> Vec<Value> {
        loop {
            let batch = answer(&self.poll_raw(self.ack).await);
            let Some(poll) = batch.poll.clone() else {
                assert!(batch.messages.is_empty(), "final: {batch:?}");
                continue;
            };
            assert_eq!(poll["seq"], self.ack + 1, "{batch:?}");
            self.ack += 1;
            return batch.messages;
        }
    }

    /// Subscribes to `channel` and waits for the reply.
    async fn subscribe(&mut self, channel: &str) {
        self.command(&format!(
            r#"{{"id":2,"subscribe":{{"channel":"{channel}"}}}}"#
        ))
        .await;
        let messages = self.next_batch().await;
        assert_eq!(messages[0]["id"], 2, "{messages:?}");
        assert!(messages[0].get("subscribe").is_some(), "{messages:?}");
    }
}

/// The head of a held poll's answer, which comes at once: a chunked
/// `200` whose body does not come for `wait`.
async fn held(conn: &mut Conn, wait: Duration) -> Resp {
    let mut head = conn.head().await.expect("the held poll's head");
    assert_eq!(head.status, 200, "{head:?}");
    assert!(head.has_token("transfer-encoding", "chunked"), "{head:?}");
    head.framing = Framing::Chunked;
    conn.assert_quiet(wait).await;
    head
}

/// The rest of a held poll's answer: its body, through the last chunk.
async fn rest(conn: &mut Conn, mut head: Resp) -> Resp {
    loop {
        match conn.chunk().await.expect("the body through its last chunk") {
            Chunk::Data(data) => head.body.extend_from_slice(&data),
            Chunk::End(trailers) => {
                assert!(trailers.is_empty(), "{trailers:?}");
                return head;
            }
        }
    }
}

async fn publish(hub: &Hub, channel: &str, n: u64) {
    let body = json!({"channel": channel, "data": {"n": n}}).to_string();
    assert_eq!(hub.api("publish", body.into()).await.status, 200);
}

/// The `n` of each publication among `messages`.
fn published(messages: &[Value]) -> Vec<u64> {
    messages
        .iter()
        .filter_map(|m| m["push"]["pub"]["data"]["n"].as_u64())
        .collect()
}

#[tokio::test]
async fn publications_arrive_in_polls_in_order() {
    let hub = start_hub(long_hold());
    let server = serve(&hub).await;
    let mut client = Client::open(&server).await;
    client.subscribe("news").await;
    let mut seen = Vec::new();
    for n in 1..=5 {
        publish(&hub, "news", n).await;
    }
    while seen.len() < 5 {
        seen.extend(published(&client.next_batch().await));
    }
    assert_eq!(seen, [1, 2, 3, 4, 5]);
    // Offsets count up with them.
    publish(&hub, "news", 6).await;
    let messages = client.next_batch().await;
    assert_eq!(messages[0]["push"]["pub"]["offset"], 6, "{messages:?}");
    assert_eq!(open_sessions(&hub).await, 1);
}

#[tokio::test]
async fn a_lost_response_is_delivered_again_once() {
    let hub = start_hub(long_hold());
    let server = serve(&hub).await;
    let mut client = Client::open(&server).await;
    client.subscribe("lossy").await;
    publish(&hub, "lossy", 1).await;
    publish(&hub, "lossy", 2).await;
    // A batch reaches the wire but not the client (it is thrown away):
    // the next poll still acks the batch before, and gets the same bytes.
    let lost = client.poll_raw(client.ack).await;
    let lost_batch = answer(&lost);
    assert_eq!(lost_batch.poll.as_ref().unwrap()["seq"], client.ack + 1);
    let again = client.poll_raw(client.ack).await;
    assert_eq!(again.body, lost.body);
    let mut seen = published(&client.next_batch().await);
    // A batch answered on a connection the client then loses (another
    // poll's, as after a network change): it is not lost either.
    let mut doomed = server.http1().await;
    let path = client.poll_path(client.ack);
    doomed.send(poll_request(&path)).await;
    publish(&hub, "lossy", 3).await;
    publish(&hub, "lossy", 4).await;
    let taken = doomed.response().await;
    assert_eq!(answer(&taken).poll.unwrap()["seq"], client.ack + 1);
    drop(doomed);
    while seen.len() < 4 {
        seen.extend(published(&client.next_batch().await));
    }
    assert_eq!(seen, [1, 2, 3, 4], "each once, in order");
    // Once a poll acked a batch, the one before is gone: a poll with an
    // older ack is a late request, answered empty, and the session goes
    // on.
    publish(&hub, "lossy", 5).await;
    assert_eq!(published(&client.next_batch().await), [5]);
    let late = client.poll_raw(client.ack - 2).await;
    assert_eq!(late.status, 200);
    assert!(late.body.is_empty(), "{late:?}");
    publish(&hub, "lossy", 6).await;
    assert_eq!(published(&client.next_batch().await), [6]);
}

#[tokio::test]
async fn polls_cut_off_while_publications_come_lose_nothing() {
    let hub = start_hub(long_hold());
    let server = serve(&hub).await;
    let mut client = Client::open(&server).await;
    client.subscribe("cut").await;
    let mut seen = Vec::new();
    for round in 0..10 {
        // The connection goes down under a held poll, before or after the
        // hub handed it a batch (whichever comes first): the next poll
        // with the same ack gets what it missed.
        let mut doomed = server.http1().await;
        let path = client.poll_path(client.ack);
        doomed.send(poll_request(&path)).await;
        publish(&hub, "cut", 2 * round + 1).await;
        drop(doomed);
        publish(&hub, "cut", 2 * round + 2).await;
    }
    while seen.len() < 20 {
        seen.extend(published(&client.next_batch().await));
    }
    assert_eq!(seen, (1..=20).collect::<Vec<u64>>(), "each once, in order");
    connections(&hub, 1).await;
}

#[tokio::test]
async fn a_held_poll_answers_when_a_publication_comes() {
    let hub = start_hub(long_hold());
    let server = serve(&hub).await;
    let mut client = Client::open(&server).await;
    client.subscribe("live").await;
    let path = client.poll_path(client.ack);
    client.polls.send(poll_request(&path)).await;
    let head = held(&mut client.polls, Duration::from_millis(200)).await;
    publish(&hub, "live", 7).await;
    // Well within the 60 s hold.
    let batch = answer(&rest(&mut client.polls, head).await);
    assert_eq!(batch.poll.unwrap()["seq"], client.ack + 1);
    assert_eq!(published(&batch.messages), [7]);
}

#[tokio::test]
async fn a_newer_poll_replaces_the_held_one() {
    let hub = start_hub(long_hold());
    let server = serve(&hub).await;
    let mut client = Client::open(&server).await;
    client.subscribe("twice").await;
    let path = client.poll_path(client.ack);
    client.polls.send(poll_request(&path)).await;
    let head = held(&mut client.polls, Duration::from_millis(100)).await;
    let mut newer = server.http1().await;
    newer.send(poll_request(&path)).await;
    let newer_head = held(&mut newer, Duration::from_millis(50)).await;
    let replaced = rest(&mut client.polls, head).await;
    assert_eq!(replaced.status, 200);
    assert!(replaced.body.is_empty(), "{replaced:?}");
    publish(&hub, "twice", 1).await;
    let batch = answer(&rest(&mut newer, newer_head).await);
    assert_eq!(published(&batch.messages), [1]);
    // The replaced poll's connection goes on: the next poll on it acks
    // the batch the newer one got.
    client.ack += 1;
    publish(&hub, "twice", 2).await;
    assert_eq!(published(&client.next_batch().await), [2]);
}

#[tokio::test]
async fn the_hold_ends_with_an_empty_answer() {
    let config = timeouts(Duration::from_millis(100), Duration::from_secs(60));
    let hub = start_hub(config);
    let server = serve(&hub).await;
    let mut client = Client::open(&server).await;
    let empty = client.poll_raw(1).await;
    assert_eq!(empty.status, 200);
    assert!(empty.body.is_empty(), "{empty:?}");
    // The session goes on.
    client.command(r#"{"id":2,"rpc":{}}"#).await;
    let messages = client.next_batch().await;
    assert_eq!(messages[0]["id"], 2, "{messages:?}");
}

#[tokio::test]
async fn an_idle_session_expires_and_frees_its_connection() {
    let config = timeouts(Duration::from_millis(100), Duration::from_millis(300));
    let hub = start_hub(config);
    let server = serve(&hub).await;
    let mut client = Client::open(&server).await;
    client.subscribe("gone").await;
    connections(&hub, 1).await;
    // No poll: the session expires, and its hub connection (with its
    // subscription) is closed.
    connections(&hub, 0).await;
    let expired = answer(&client.poll_raw(client.ack).await);
    assert_eq!(expired.poll, None);
    assert_eq!(
        expired.messages,
        [
            json!({"push":{"disconnect":{"code":3010,"reason":"long poll session expired or unknown"}}})
        ]
    );
    assert_eq!(open_sessions(&hub).await, 0);
}

#[tokio::test]
async fn unknown_sessions_and_bad_polls_are_answered_clearly() {
    let hub = start_hub(long_hold());
    let server = serve(&hub).await;
    let mut conn = server.http1().await;
    let unknown = answer(
        &post(
            &mut conn,
            "/connection/long_poll?session=9b2f0c1e-0000-4000-8000-000000000000&ack=3",
            "",
        )
        .await,
    );
    assert_eq!(unknown.poll, None);
    assert_eq!(unknown.messages[0]["push"]["disconnect"]["code"], 3010);
    let no_ack = post(&mut conn, "/connection/long_poll?session=x", "").await;
    assert_eq!(no_ack.status, 400);
    let no_connect = post(&mut conn, "/connection/long_poll", "").await;
    assert_eq!(no_connect.status, 400);
    let get = conn
        .exchange("GET /connection/long_poll HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    assert_eq!(get.status, 405);
    assert_eq!(get.header("allow"), Some("POST, OPTIONS"));
    let big = "x".repeat(70_000);
    assert_eq!(
        post(&mut conn, "/connection/long_poll", &big).await.status,
        413
    );
    // A connect that is not one: the hub's disconnect, and no session.
    let refused = answer(&post(&mut conn, "/connection/long_poll", r#"{"id":1,"rpc":{}}"#).await);
    assert_eq!(refused.poll, None, "{refused:?}");
    assert_eq!(
        refused.messages.last().unwrap()["push"]["disconnect"]["code"],
        3501
    );
    connections(&hub, 0).await;
    // An ack never sent ends the session with a disconnect push.
    let mut client = Client::open(&server).await;
    let ahead = answer(&client.poll_raw(9).await);
    assert_eq!(ahead.poll, None);
    assert_eq!(ahead.messages[0]["push"]["disconnect"]["code"], 3010);
    connections(&hub, 0).await;
}

#[tokio::test]
async fn a_close_ends_the_session_at_once() {
    let hub = start_hub(long_hold());
    let server = serve(&hub).await;
    let mut client = Client::open(&server).await;
    connections(&hub, 1).await;
    let path = format!("/connection/long_poll?session={}&close", client.session);
    assert_eq!(post(&mut client.commands, &path, "").await.status, 204);
    connections(&hub, 0).await;
}

#[tokio::test]
async fn cross_origin_polls_follow_the_origin_policy() {
    let hub = start_hub(long_hold());
    let server = serve(&hub).await;
    let mut conn = server.http1().await;
    let preflight = conn
        .exchange(
            "OPTIONS /connection/long_poll HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\n\
             Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\n\r\n",
        )
        .await;
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(
        preflight.header("access-control-allow-methods"),
        Some("POST, OPTIONS")
    );
    let opened = conn
        .exchange(format!(
            "POST /connection/long_poll HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\n\
             Content-Length: {}\r\n\r\n{CONNECT}",
            CONNECT.len()
        ))
        .await;
    assert_eq!(
        opened.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(answer(&opened).poll.unwrap()["seq"], 1);
    let refused = conn
        .exchange(format!(
            "POST /connection/long_poll HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\n\
             Content-Length: {}\r\n\r\n{CONNECT}",
            CONNECT.len()
        ))
        .await;
    assert_eq!(refused.status, 403);
    connections(&hub, 1).await;
}

#[tokio::test]
async fn a_shutdown_ends_a_held_poll_with_a_3001_push() {
    let hub = start_hub(long_hold());
    let mut server = serve(&hub).await;
    let mut client = Client::open(&server).await;
    let path = client.poll_path(1);
    client.polls.send(poll_request(&path)).await;
    let head = held(&mut client.polls, Duration::from_millis(100)).await;
    server.stop();
    let last = answer(&rest(&mut client.polls, head).await);
    assert_eq!(
        last.messages,
        [json!({"push":{"disconnect":{"code":3001,"reason":"shutdown"}}})]
    );
    tokio::time::timeout(LIMIT, server.task)
        .await
        .expect("the server stopped")
        .unwrap()
        .unwrap();
    connections(&hub, 0).await;
}

#[tokio::test]
async fn a_session_the_hub_ends_ends_its_held_poll() {
    let hub = start_hub(long_hold());
    let server = serve(&hub).await;
    let mut client = Client::open(&server).await;
    client.subscribe("ended").await;
    let path = client.poll_path(client.ack);
    client.polls.send(poll_request(&path)).await;
    let head = held(&mut client.polls, Duration::from_millis(100)).await;
    let disconnect = json!({
        "user": "", "session": client.session,
        "disconnect": {"code": 3011, "reason": "test"}
    });
    assert_eq!(
        hub.api("disconnect", disconnect.to_string().into())
            .await
            .status,
        200
    );
    // The held poll ends with the last batch: the disconnect push.
    let last = answer(&rest(&mut client.polls, head).await);
    assert_eq!(last.poll.unwrap()["seq"], client.ack + 1);
    assert_eq!(
        last.messages,
        [json!({"push":{"disconnect":{"code":3011,"reason":"test"}}})]
    );
    connections(&hub, 0).await;
    // Confirmed, the session is over.
    let over = answer(&client.poll_raw(client.ack + 1).await);
    assert_eq!(over.poll, None);
    assert_eq!(over.messages[0]["push"]["disconnect"]["code"], 3010);
    assert_eq!(open_sessions(&hub).await, 0);
}

#[tokio::test]
async fn a_client_gone_during_a_held_poll_leaves_the_session_to_expire() {
    let config = timeouts(Duration::from_secs(60), Duration::from_millis(300));
    let hub = start_hub(config);
    let server = serve(&hub).await;
    let mut client = Client::open(&server).await;
    client.subscribe("left").await;
    let mut doomed = server.http1().await;
    doomed
        .send(poll_request(&client.poll_path(client.ack)))
        .await;
    held(&mut doomed, Duration::from_millis(50)).await;
    // While its poll is held the session does not expire.
    tokio::time::sleep(Duration::from_millis(600)).await;
    connections(&hub, 1).await;
    // The client goes away: its body is dropped, the session is idle
    // from then on, and expires.
    drop(doomed);
    connections(&hub, 0).await;
    assert_eq!(open_sessions(&hub).await, 0);
}

/// One HTTP/2 POST: its status and whole body.
async fn h2_post(
    client: &h2::client::SendRequest<Bytes>,
    path: &str,
    body: String,
) -> (StatusCode, String) {
    let mut client = tokio::time::timeout(LIMIT, client.clone().ready())
        .await
        .unwrap()
        .unwrap();
    let request = Request::post(format!("http://localhost{path}"))
        .body(())
        .unwrap();
    let (response, mut send) = client.send_request(request, false).unwrap();
    send.send_data(Bytes::from(body), true).unwrap();
    let response = h2_response(response).await;
    let status = response.status();
    let mut body = response.into_body();
    let mut text = Vec::new();
    while let Some(chunk) = tokio::time::timeout(LIMIT, body.data()).await.unwrap() {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        text.extend_from_slice(&chunk);
    }
    (status, String::from_utf8(text).unwrap())
}

#[tokio::test]
async fn long_polling_over_http2() {
    let hub = start_hub(long_hold());
    let server = serve(&hub).await;
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let client = h2_handshake(tcp).await;
    let (status, opened) = h2_post(&client, "/connection/long_poll", CONNECT.into()).await;
    assert_eq!(status, 200);
    let poll: Value = serde_json::from_str(opened.lines().next().unwrap()).unwrap();
    let session = poll["poll"]["session"].as_str().unwrap().to_string();
    // A held poll and the commands on the same connection, two streams.
    let held = tokio::spawn({
        let client = client.clone();
        let path = format!("/connection/long_poll?session={session}&ack=1");
        async move { h2_post(&client, &path, String::new()).await }
    });
    let subscribe = r#"{"id":2,"subscribe":{"channel":"h2"}}"#;
    let body = json!({"session": session, "data": subscribe}).to_string();
    let (status, _) = h2_post(&client, "/emulation", body).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, batch) = tokio::time::timeout(LIMIT, held).await.unwrap().unwrap();
    assert_eq!(status, 200);
    assert!(
        batch.starts_with("{\"poll\":{\"seq\":2}}\n{\"id\":2,\"subscribe\":{"),
        "{batch}"
    );
    connections(&hub, 1).await;
}

/// A body-less poll of `path`, to send without waiting for its answer.
fn poll_request(path: &str) -> String {
    format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
}
