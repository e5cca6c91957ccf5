//! Serving an HTTP/2 connection on h2: every request stream goes to the
//! service, and an extended CONNECT (RFC 8441) hands its stream straight
//! to the WebSocket that accepts it, with no task between them.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use h2::server::SendResponse;
use http::{Method, Request, Response};
use hyper::service::Service;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

use super::body::BoxError;
use super::http2_respond::Respond;
use super::request_body::RequestBody;
use crate::upgrade::upgrade_slot;

/// The longest DATA frame the server accepts, as it announces in its
/// SETTINGS.
const MAX_FRAME_SIZE: u32 = 64 << 10;

/// How long a keep-alive ping may go unanswered.
const PING_TIMEOUT: Duration = Duration::from_secs(20);

/// The settings every HTTP/2 connection of a server shares.
#[derive(Debug, Clone)]
pub(crate) struct Http2Settings {
    pub(crate) max_header_list_size: u32,
    pub(crate) max_concurrent_streams: u32,
    pub(crate) keep_alive: Option<Duration>,
    pub(crate) handshake_timeout: Duration,
}

impl Http2Settings {
    fn builder(&self) -> h2::server::Builder {
        let mut builder = h2::server::Builder::new();
        builder
            .enable_connect_protocol()
            .max_header_list_size(self.max_header_list_size)
            .max_concurrent_streams(self.max_concurrent_streams)
            // Receive windows of 1 MiB per stream and 4 MiB per
            // connection: a client sends a large message without waiting
            // for WINDOW_UPDATEs, many streams keep messages in flight at
            // once, and a stream whose reader stalls holds 1 MiB at most.
            .initial_window_size(1 << 20)
            .initial_connection_window_size(4 << 20)
            // DATA frames of up to 64 KiB: a client's 16 KiB WebSocket
            // message, header included, arrives as one frame.
            .max_frame_size(MAX_FRAME_SIZE)
            .max_send_buffer_size(400 << 10);
        builder
    }
}

/// Serves one HTTP/2 connection until the client closes it, or, once
/// `draining` is cancelled, until its streams have finished after a
/// `GOAWAY`.
pub(crate) async fn serve_http2<I, S, B>(
    io: I,
    settings: &Http2Settings,
    service: S,
    draining: &CancellationToken,
) -> io::Result<()>
where
    I: AsyncRead + AsyncWrite + Unpin,
    S: Service<Request<RequestBody>, Response = Response<B>>,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let handshake = settings.builder().handshake::<_, Bytes>(io);
    let mut conn = match tokio::time::timeout(settings.handshake_timeout, handshake).await {
        Ok(conn) => conn.map_err(into_io)?,
        Err(_) => {
            let why = format!(
                "HTTP/2 handshake not done within {:?}",
                settings.handshake_timeout
            );
            return Err(io::Error::new(io::ErrorKind::TimedOut, why));
        }
    };
    let mut ping_pong = settings.keep_alive.and_then(|_| conn.ping_pong());
    let keep_alive = async {
        match (settings.keep_alive, ping_pong.as_mut()) {
            (Some(interval), Some(ping_pong)) => loop {
                tokio::time::sleep(interval).await;
                let pong = ping_pong.ping(h2::Ping::opaque());
                match tokio::time::timeout(PING_TIMEOUT, pong).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(_)) => return "connection gone",
                    Err(_) => return "keep-alive ping not answered",
                }
            },
            _ => std::future::pending().await,
        }
    };
    let mut keep_alive = std::pin::pin!(keep_alive);
    let mut draining_seen = false;
    let streams = OpenStreams::default();
    loop {
        tokio::select! {
            accepted = LastInLine::new(Box::pin(conn.accept()), &streams) => match accepted {
                Some(Ok((req, send))) => dispatch(&service, req, send, streams.clone()),
                Some(Err(e)) => return Err(into_io(e)),
                None => return Ok(()),
            },
            () = draining.cancelled(), if !draining_seen => {
                draining_seen = true;
                conn.graceful_shutdown();
            }
            why = &mut keep_alive => {
                tracing::debug!("HTTP/2 connection dropped: {why}");
                return Ok(());
            }
        }
    }
}

/// Hands a request stream to the service, and its answer to a task of
/// its own. An extended CONNECT goes with an empty body: its stream is
/// the tunnel, handed over once the service accepts it.
fn dispatch<S, B>(
    service: &S,
    req: Request<h2::RecvStream>,
    send: SendResponse<Bytes>,
    open: OpenStreams,
) where
    S: Service<Request<RequestBody>, Response = Response<B>>,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let (mut parts, recv) = req.into_parts();
    let head_only = parts.method == Method::HEAD;
    let is_tunnel =
        parts.method == Method::CONNECT && parts.extensions.get::<h2::ext::Protocol>().is_some();
    let (body, tunnel) = if is_tunnel {
        let (tunnel, slot) = upgrade_slot();
        parts.extensions.insert(slot);
        (RequestBody::empty(), Some((tunnel, recv)))
    } else {
        (RequestBody::http2(recv), None)
    };
    let future = service.call(Request::from_parts(parts, body));
    tokio::spawn(Respond::new(future, send, tunnel, head_only, open));
}

/// An h2 error as an IO error: the socket's own, or h2's wrapped.
pub(crate) fn into_io(e: h2::Error) -> io::Error {
    if e.is_io() {
        e.into_io().unwrap_or_else(|| io::ErrorKind::Other.into())
    } else {
        io::Error::other(e)
    }
}

/// Counts the streams open on one HTTP/2 connection: the connection
/// holds one of these, and every stream's task (or tunnel) a clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct OpenStreams(Arc<()>);

impl OpenStreams {
    /// How many streams are open.
    fn count(&self) -> usize {
        Arc::strong_count(&self.0) - 1
    }
}

/// Polls its future only after every other task that is ready has run.
///
/// The connection task is woken by each stream that sends: WebSockets
/// answering messages that arrived together, say. Run at once, it would
/// write each stream's frames in syscalls of their own; run last, it
/// finds all of them queued and writes them together.
///
/// Only while the connection carries more than one stream: with one,
/// there is nothing to gather, and the wait would only cost a turn.
struct LastInLine<'a, F> {
    future: F,
    streams: &'a OpenStreams,
    waited: bool,
}

impl<'a, F> LastInLine<'a, F> {
    fn new(future: F, streams: &'a OpenStreams) -> Self {
        LastInLine {
            future,
            streams,
            waited: false,
        }
    }
}

impl<F: Future + Unpin> Future for LastInLine<'_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        if !self.waited && self.streams.count() > 1 {
            self.waited = true;
            // A task that wakes itself goes to the back of the run queue.
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.waited = false;
        Pin::new(&mut self.future).poll(cx)
    }
}
