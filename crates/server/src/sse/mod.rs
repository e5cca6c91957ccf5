//! Server-Sent Events responses: a `text/event-stream` body fed by a
//! stream of events or a channel, with heartbeats, shutdown and
//! disconnect detection.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use http::{Request, Response};
use http_body::Frame;
use pushwire_proto::sse::Event;
use tokio::time::{Instant, Sleep};

use crate::http::body::{Body, BoxError};

mod channel;

pub use channel::{Disconnected, SseSender};

/// The heartbeat interval when none is set.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);

/// The comment line a heartbeat writes.
const HEARTBEAT: &[u8] = b":\n\n";

type EventStream = Pin<Box<dyn Stream<Item = Event> + Send>>;
type Until = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A Server-Sent Events response under construction: the events to send,
/// the heartbeat interval and when to stop.
///
/// [`into_response`](Sse::into_response) makes a `200` with
/// `Content-Type: text/event-stream`, `Cache-Control: no-cache` and
/// `X-Accel-Buffering: no` (so that nginx-style proxies do not buffer the
/// stream), and no `Connection` header, so the same response serves
/// HTTP/1.1 (chunked) and HTTP/2 (one stream of many).
///
/// The body writes each event as it comes, and a comment (`:`) after
/// every [`heartbeat`](Sse::heartbeat) interval without one (default
/// 15 s), so that proxies and clients keep an idle stream open. It ends
/// cleanly when the event stream ends or the [`until`](Sse::until) future
/// resolves: pass [`ConnectionInfo::shutting_down`](crate::ConnectionInfo::shutting_down)
/// there so the server's graceful shutdown is not held up.
///
/// When the client goes away (it closes the connection, or resets its
/// HTTP/2 stream), the server drops the body, and with it the event
/// stream: a producer on the other end of [`Sse::channel`] sees its
/// [`SseSender::send`] fail and [`SseSender::closed`] resolve. A peer that
/// vanishes without closing (a cut network) is noticed when a write fails,
/// at the latest on the next event or heartbeat.
///
/// An idle stream holds the boxed event stream, one timer and the shutdown
/// future: no task and no buffers. The heartbeat is a timer the body
/// polls itself, and the queue of [`Sse::channel`] allocates only while
/// events wait in it (`bench/sse-idle-memory.sh` measures the whole).
///
/// ```no_run
/// use std::time::Duration;
/// use hyper::{Request, Response};
/// use pushwire::proto::sse::Event;
/// use pushwire::sse::{last_event_id, Sse};
/// use pushwire::{Body, ConnectionInfo, RequestBody};
///
/// fn ticks(req: &Request<RequestBody>) -> Response<Body> {
///     let start: u64 = last_event_id(req).and_then(|id| id.parse().ok()).unwrap_or(0);
///     let (tx, sse) = Sse::channel(8);
///     tokio::spawn(async move {
///         for n in start + 1.. {
///             let event = Event::new().id(n.to_string()).data(format!("tick {n}"));
///             if tx.send(event).await.is_err() {
///                 break; // the client went away
///             }
///             tokio::time::sleep(Duration::from_secs(1)).await;
///         }
///     });
///     let mut sse = sse.heartbeat(Duration::from_secs(10));
///     if let Some(info) = req.extensions().get::<ConnectionInfo>() {
///         sse = sse.until(info.shutting_down());
///     }
///     sse.into_response()
/// }
/// ```
pub struct Sse {
    events: EventStream,
    heartbeat: Option<Duration>,
    until: Option<Until>,
}

impl Sse {
    /// A response streaming `events` until they end.
    pub fn new<S>(events: S) -> Self
    where
        S: Stream<Item = Event> + Send + 'static,
    {
        Sse {
            events: Box::pin(events),
            heartbeat: Some(DEFAULT_HEARTBEAT),
            until: None,
        }
    }

    /// A response fed through a channel holding up to `buffer` events
    /// (at least 1): send with the returned [`SseSender`]; dropping it ends
    /// the response.
    pub fn channel(buffer: usize) -> (SseSender, Sse) {
        let (tx, rx) = channel::channel(buffer);
        (tx, Sse::new(rx))
    }

    /// Sends a heartbeat comment after `interval` without any event;
    /// `None` sends none. Default: 15 s.
    pub fn heartbeat(mut self, interval: impl Into<Option<Duration>>) -> Self {
        self.heartbeat = interval.into().filter(|d| !d.is_zero());
        self
    }

    /// Ends the response cleanly (the last chunk on HTTP/1.1, END_STREAM on
    /// HTTP/2) when `signal` resolves, e.g. `info.shutting_down()`.
    pub fn until<F>(mut self, signal: F) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.until = Some(Box::pin(signal));
        self
    }

    /// The streaming body alone, for a response built elsewhere.
    pub fn into_body(self) -> Body {
        Body::new(SseBody {
            events: Some(self.events),
            sleep: self
                .heartbeat
                .map(|interval| (interval, Box::pin(tokio::time::sleep(interval)))),
            until: self.until,
        })
    }

    /// A `200 OK` response carrying the stream, with the event-stream
    /// headers.
    pub fn into_response(self) -> Response<Body> {
        let mut response = Response::new(self.into_body());
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(pushwire_proto::sse::CONTENT_TYPE),
        );
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
        response
    }
}

impl fmt::Debug for Sse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sse")
            .field("heartbeat", &self.heartbeat)
            .field("until", &self.until.is_some())
            .finish_non_exhaustive()
    }
}

/// The request's `Last-Event-ID` header: the `id` of the last event a
/// reconnecting `EventSource` received. `None` when absent or not text.
///
/// ```
/// let req = http::Request::get("/sse").header("last-event-id", "41").body(()).unwrap();
/// assert_eq!(pushwire::sse::last_event_id(&req), Some("41"));
/// ```
pub fn last_event_id<B>(req: &Request<B>) -> Option<&str> {
    req.headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
}

/// The body: events first, then heartbeats when idle, until the end.
struct SseBody {
    /// `None` once the body has ended.
    events: Option<EventStream>,
    sleep: Option<(Duration, Pin<Box<Sleep>>)>,
    until: Option<Until>,
}

impl SseBody {
    fn end(&mut self) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        // Drop the producer's end now, so it learns at once.
        self.events = None;
        self.sleep = None;
        self.until = None;
        Poll::Ready(None)
    }
}

impl http_body::Body for SseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let Some(events) = this.events.as_mut() else {
            return Poll::Ready(None);
        };
        if let Some(until) = this.until.as_mut() {
            if until.as_mut().poll(cx).is_ready() {
                return this.end();
            }
        }
        match events.as_mut().poll_next(cx) {
            Poll::Ready(Some(event)) => {
                if let Some((interval, sleep)) = this.sleep.as_mut() {
                    sleep.as_mut().reset(Instant::now() + *interval);
                }
                return Poll::Ready(Some(Ok(Frame::data(event.encode()))));
            }
            Poll::Ready(None) => return this.end(),
            Poll::Pending => {}
        }
        if let Some((interval, sleep)) = this.sleep.as_mut() {
            if sleep.as_mut().poll(cx).is_ready() {
                sleep.as_mut().reset(Instant::now() + *interval);
                return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(HEARTBEAT)))));
            }
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.events.is_none()
    }
}
