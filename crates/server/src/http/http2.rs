//! Serving an HTTP/2 connection on h2: every request stream goes to the
//! service, and an extended CONNECT (RFC 8441) hands its stream straight
//! to the WebSocket that accepts it. The connection and all its streams
//! run in one task.

use std::future::{poll_fn, Future};
use std::io;
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
use super::http2_tasks::{StreamSpawner, StreamTask, StreamTasks};
use super::poll_rounds::PollRounds;
use super::request_body::RequestBody;
use super::wake_flag::WakeFlag;
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
/// `GOAWAY`. The streams' tasks run in this one (see
/// [`StreamTasks`]); it ends once the last of them has.
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
    let mut conn = Some(conn);
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
    let mut draining = std::pin::pin!(draining.cancelled());
    let mut draining_seen = false;
    let rounds = PollRounds::new();
    let mut tasks = StreamTasks::new(rounds.waker().clone());
    // Draining and keep-alive are polled only when they woke, not in
    // every round a message causes.
    let controls = WakeFlag::new(rounds.waker().clone());
    let mut outcome = Ok(());
    poll_fn(move |task_cx| {
        let cx = &mut rounds.begin(task_cx);
        for _ in 0..MAX_ROUNDS {
            if let Some(live) = conn.as_mut().filter(|_| controls.take()) {
                let controls_cx = &mut Context::from_waker(controls.waker());
                if !draining_seen && draining.as_mut().poll(controls_cx).is_ready() {
                    draining_seen = true;
                    live.graceful_shutdown();
                }
                if let Poll::Ready(why) = keep_alive.as_mut().poll(controls_cx) {
                    tracing::debug!("HTTP/2 connection dropped: {why}");
                    conn = None;
                }
            }
            while let Some(live) = conn.as_mut() {
                match live.poll_accept(cx) {
                    Poll::Ready(Some(Ok((req, send)))) => {
                        let spawner = tasks.spawner().clone();
                        tasks.push(dispatch(&service, req, send, spawner));
                    }
                    Poll::Ready(Some(Err(e))) => {
                        outcome = Err(into_io(e));
                        conn = None;
                    }
                    Poll::Ready(None) => conn = None,
                    Poll::Pending => break,
                }
            }
            // Dropping the connection ends its streams: their tasks
            // learn so as they run.
            tasks.run_ready();
            if conn.is_none() && tasks.is_empty() {
                return Poll::Ready(std::mem::replace(&mut outcome, Ok(())));
            }
            if !rounds.another_round() {
                return Poll::Pending;
            }
        }
        rounds.yield_now(task_cx);
        Poll::Pending
    })
    .await
}

/// How many rounds one poll of a connection's task may run (the
/// connection, then its streams, as long as one wakes another) before
/// it lets other tasks run.
const MAX_ROUNDS: usize = 16;

/// Hands a request stream to the service, and returns the task that
/// sends its answer. An extended CONNECT goes with an empty body: its
/// stream is the tunnel, handed over once the service accepts it.
fn dispatch<S, B>(
    service: &S,
    req: Request<h2::RecvStream>,
    send: SendResponse<Bytes>,
    stream_tasks: StreamSpawner,
) -> StreamTask
where
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
        let (tunnel, slot) = upgrade_slot(Some(stream_tasks));
        parts.extensions.insert(slot);
        (RequestBody::empty(), Some((tunnel, recv)))
    } else {
        (RequestBody::http2(recv), None)
    };
    let future = service.call(Request::from_parts(parts, body));
    Box::pin(Respond::new(future, send, tunnel, head_only))
}

/// An h2 error as an IO error: the socket's own, or h2's wrapped.
pub(crate) fn into_io(e: h2::Error) -> io::Error {
    if e.is_io() {
        e.into_io().unwrap_or_else(|| io::ErrorKind::Other.into())
    } else {
        io::Error::other(e)
    }
}
