//! Server-Sent Events over real sockets: HTTP/1.1 (chunked, parsed with
//! the proto parser), `Last-Event-ID` resume, heartbeats, clean end on
//! shutdown, disconnect detection, and 100 streams multiplexed on one
//! HTTP/2 connection with one of them reset.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use hyper::service::service_fn;
use pushwire::proto::sse::{MessageEvent, Parser, Received};
use pushwire::sse::{last_event_id, Sse};
use pushwire::RequestBody;
use pushwire::{Body, ConnectionInfo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::http2::h2_handshake;
use crate::common::{TestServer, LIMIT};

/// Producers that saw their client go away.
#[derive(Default)]
struct Counters {
    disconnected: AtomicUsize,
}

/// `/ticks`: an event every 20 ms from `Last-Event-ID` + 1, its producer
/// counting a failed send; `/quiet`: no events, a heartbeat every 50 ms.
async fn route(
    req: Request<RequestBody>,
    counters: Arc<Counters>,
) -> Result<Response<Body>, Infallible> {
    let info = req.extensions().get::<ConnectionInfo>().cloned().unwrap();
    let response = match req.uri().path() {
        "/ticks" => {
            let start: u64 = last_event_id(&req).map_or(0, |id| id.parse().unwrap());
            let (tx, sse) = Sse::channel(1);
            tokio::spawn(async move {
                for n in start + 1.. {
                    let event = pushwire::proto::sse::Event::new()
                        .id(n.to_string())
                        .event("tick")
                        .data(format!("{n}\nline two"));
                    if tx.send(event).await.is_err() {
                        counters.disconnected.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            });
            sse.until(info.shutting_down()).into_response()
        }
        "/quiet" => Sse::new(futures_pending())
            .heartbeat(Duration::from_millis(50))
            .until(info.shutting_down())
            .into_response(),
        _ => Response::new(Body::from("not found")),
    };
    Ok(response)
}

/// A stream that never yields.
fn futures_pending() -> impl futures_core::Stream<Item = pushwire::proto::sse::Event> + Send {
    struct Pending;
    impl futures_core::Stream for Pending {
        type Item = pushwire::proto::sse::Event;
        fn poll_next(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Pending
        }
    }
    Pending
}

/// Serves [`route`] with its counters.
async fn start() -> TestServer<Arc<Counters>> {
    let counters = Arc::new(Counters::default());
    let shared = counters.clone();
    let service = service_fn(move |req| route(req, shared.clone()));
    TestServer::serve(|s| s, counters, service).await
}

impl TestServer<Arc<Counters>> {
    async fn wait_disconnected(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + LIMIT;
        while self.state.disconnected.load(Ordering::SeqCst) < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "producers never saw the disconnect"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// An HTTP/1.1 event-stream reader: response head, then the chunked body
/// decoded and fed to the SSE parser.
struct H1Events {
    tcp: TcpStream,
    raw: Vec<u8>,
    parser: Parser,
    ended: bool,
}

impl H1Events {
    async fn open(addr: SocketAddr, path: &str, extra: &str) -> (String, H1Events) {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{extra}\r\n");
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut events = H1Events {
            tcp,
            raw: Vec::new(),
            parser: Parser::new(),
            ended: false,
        };
        let head = loop {
            if let Some(at) = events.raw.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8(events.raw[..at].to_vec()).unwrap();
                events.raw.drain(..at + 4);
                break head;
            }
            assert!(events.read().await, "connection closed before the head");
        };
        (head.to_ascii_lowercase(), events)
    }

    async fn read(&mut self) -> bool {
        let mut buf = [0u8; 4096];
        let n = tokio::time::timeout(LIMIT, self.tcp.read(&mut buf))
            .await
            .expect("bytes in time")
            .unwrap_or(0);
        self.raw.extend_from_slice(&buf[..n]);
        n > 0
    }

    /// Feeds every complete chunk to the parser.
    fn dechunk(&mut self) {
        while let Some(line_end) = self.raw.windows(2).position(|w| w == b"\r\n") {
            let size =
                usize::from_str_radix(std::str::from_utf8(&self.raw[..line_end]).unwrap(), 16)
                    .unwrap();
            if self.raw.len() < line_end + 2 + size + 2 {
                return;
            }
            if size == 0 {
                self.ended = true;
            }
            self.parser
                .feed(&self.raw[line_end + 2..line_end + 2 + size])
                .expect("events within the limit");
            self.raw.drain(..line_end + 2 + size + 2);
        }
    }

    /// The next parsed item; `None` when the response ended.
    async fn next(&mut self) -> Option<Received> {
        loop {
            self.dechunk();
            if let Some(item) = self.parser.next() {
                return Some(item);
            }
            if self.ended {
                return None;
            }
            assert!(self.read().await, "connection closed mid-stream");
        }
    }

    async fn message(&mut self) -> MessageEvent {
        loop {
            match self.next().await.expect("an event") {
                Received::Message(message) => return message,
                _ => continue,
            }
        }
    }
}

#[tokio::test]
async fn h1_stream_resumes_after_last_event_id_and_ends_on_shutdown() {
    let mut server = start().await;
    let (head, mut events) = H1Events::open(server.addr, "/ticks", "Last-Event-ID: 41\r\n").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    assert!(head.contains("cache-control: no-cache"), "{head}");
    assert!(head.contains("x-accel-buffering: no"), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    for n in 42..45 {
        let message = events.message().await;
        assert_eq!(message.id, n.to_string());
        assert_eq!(message.event, "tick");
        assert_eq!(message.data, format!("{n}\nline two"));
    }
    // Shutdown ends the response with its last chunk, not a reset.
    server.stop();
    while let Some(_item) = events.next().await {}
    assert!(events.ended);
    tokio::time::timeout(LIMIT, server.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn heartbeats_keep_an_idle_stream_alive() {
    let server = start().await;
    let (head, mut events) = H1Events::open(server.addr, "/quiet", "").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    for _ in 0..3 {
        assert_eq!(events.next().await, Some(Received::Comment(String::new())));
    }
}

#[tokio::test]
async fn producer_sees_an_h1_client_go_away() {
    let server = start().await;
    let (_, mut events) = H1Events::open(server.addr, "/ticks", "").await;
    assert_eq!(events.message().await.id, "1");
    drop(events);
    server.wait_disconnected(1).await;
}

/// Reads an h2 stream as it comes (so no DATA frames pile up in the
/// client), sending the ids of parsed events to the test.
fn h2_reader(
    mut body: h2::RecvStream,
) -> (
    tokio::sync::mpsc::UnboundedReceiver<String>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let mut parser = Parser::new();
        while let Some(chunk) = body.data().await {
            let chunk: Bytes = chunk.unwrap();
            body.flow_control().release_capacity(chunk.len()).unwrap();
            parser.feed(&chunk).expect("events within the limit");
            for item in parser.by_ref() {
                if let Received::Message(m) = item {
                    let _ = tx.send(m.id);
                }
            }
        }
    });
    (rx, task)
}

async fn next_id(ids: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> u64 {
    tokio::time::timeout(LIMIT, ids.recv())
        .await
        .expect("an event in time")
        .expect("the stream goes on")
        .parse()
        .unwrap()
}

#[tokio::test]
async fn hundred_streams_on_one_h2_connection_and_a_reset_ends_only_one() {
    let server = start().await;
    let mut client = h2_handshake(TcpStream::connect(server.addr).await.unwrap()).await;
    let mut streams = Vec::new();
    for i in 0..100u64 {
        let request = Request::get("http://localhost/ticks")
            .header("last-event-id", (i * 1000).to_string())
            .body(())
            .unwrap();
        client = client.ready().await.unwrap();
        let (response, send) = client.send_request(request, true).unwrap();
        streams.push((i, response, send));
    }
    let mut open = Vec::new();
    for (i, response, _send) in streams {
        let response = tokio::time::timeout(LIMIT, response)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(response.status(), 200);
        let headers = response.headers();
        assert_eq!(headers["content-type"], "text/event-stream");
        assert!(headers.get("connection").is_none());
        let (ids, task) = h2_reader(response.into_body());
        open.push((i, ids, task));
    }
    // Every stream receives its own events, interleaved on one connection.
    for (i, ids, _) in &mut open {
        assert_eq!(next_id(ids).await, *i * 1000 + 1);
        assert_eq!(next_id(ids).await, *i * 1000 + 2);
    }
    // Reset one (dropping a stream's receiving half sends
    // RST_STREAM(CANCEL)): its producer learns, the others go on.
    let (_, _, reader) = open.remove(37);
    reader.abort();
    server.wait_disconnected(1).await;
    for (i, ids, _) in &mut open {
        let mut last = next_id(ids).await;
        for _ in 0..3 {
            let id = next_id(ids).await;
            assert_eq!(id, last + 1);
            last = id;
        }
        assert_eq!(last / 1000, *i);
    }
    assert_eq!(server.state.disconnected.load(Ordering::SeqCst), 1);
    // And a new stream still opens on the same connection.
    let (response, _) = client
        .send_request(
            Request::get("http://localhost/nope").body(()).unwrap(),
            true,
        )
        .unwrap();
    assert_eq!(
        tokio::time::timeout(LIMIT, response)
            .await
            .unwrap()
            .unwrap()
            .status(),
        200
    );
}
