//! Serving an HTTP/2 connection (RFC 9113): every request stream goes to
//! the service, and an extended CONNECT (RFC 8441) hands its stream
//! straight to the WebSocket that accepts it. The connection and all its
//! streams run in one task.

use std::future::{poll_fn, Future};
use std::io;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request};
use pushwire_proto::http2::connection::{Connection, Opened};
use pushwire_proto::http2::frame::{Frame, FrameError};
use pushwire_proto::http2::ErrorCode;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

use super::config::Http2Config;
use super::read::FrameReader;
use super::respond::Respond;
use super::stream::{lock_conn as lock, Driven, SharedConn, StreamRef};
use super::tasks::{StreamSpawner, StreamTask, StreamTasks};
use super::timeouts::ConnTimeouts;
use crate::http::request_body::RequestBody;
use crate::http::service::HttpService;
use crate::http::upgrade_slot::upgrade_slot;
use crate::io::poll_flush_output;
use crate::task::ping_timer::{Due, PingTimer};
use crate::task::poll_rounds::PollRounds;
use crate::task::wake_flag::WakeFlag;

/// How many rounds one poll of a connection's task may run (the
/// connection, then its streams, as long as one wakes another) before
/// it lets other tasks run.
const MAX_ROUNDS: usize = 16;

/// The settings every HTTP/2 connection of a server shares.
#[derive(Debug, Clone)]
pub(crate) struct Http2Settings {
    pub(crate) config: Http2Config,
    pub(crate) max_header_list_size: u32,
    pub(crate) handshake_timeout: Duration,
}

/// Serves one HTTP/2 connection, whose first bytes `prefix` were read
/// already, until the client closes it, or, once `draining` is
/// cancelled, until its streams have finished after a graceful GOAWAY.
/// The streams' tasks run in this one (see [`StreamTasks`]); it ends
/// once the last of them has.
pub(crate) async fn serve_http2<I, S>(
    mut io: I,
    prefix: Bytes,
    settings: &Http2Settings,
    service: S,
    draining: &CancellationToken,
) -> io::Result<()>
where
    I: AsyncRead + AsyncWrite + Unpin,
    S: HttpService,
{
    let rounds = PollRounds::new();
    let config = settings.config.clamped();
    let state = Connection::new(config.connection_config(settings.max_header_list_size));
    let shared: SharedConn = Driven::new(state, rounds.waker().clone());
    let mut reader = FrameReader::new(prefix, config.max_frame_size);
    let preface = poll_fn(|cx| reader.poll_preface(cx, &mut io));
    match tokio::time::timeout(settings.handshake_timeout, preface).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) if e.kind() == io::ErrorKind::InvalidData => {
            // A connection error of type PROTOCOL_ERROR (section 3.4):
            // the server's SETTINGS and a GOAWAY say so, as far as the
            // socket takes them at once.
            let mut out = {
                let mut conn = lock(&shared);
                conn.fail(&FrameError::connection(
                    ErrorCode::PROTOCOL_ERROR,
                    "the preface is not followed by SETTINGS",
                ));
                std::mem::take(conn.output())
            };
            let flush = poll_fn(|cx| poll_flush_output(&mut out, cx, &mut io));
            let _ = tokio::time::timeout(settings.handshake_timeout, flush).await;
            return Err(e);
        }
        Ok(Err(e)) => return Err(e),
        Err(_) => {
            let why = format!(
                "HTTP/2 handshake not done within {:?}",
                settings.handshake_timeout
            );
            return Err(io::Error::new(io::ErrorKind::TimedOut, why));
        }
    }
    let mut keep_alive = config
        .keep_alive_interval
        .map(|interval| PingTimer::new(interval, config.keep_alive_timeout));
    let mut timeouts = ConnTimeouts::new(&config);
    let mut draining = std::pin::pin!(draining.cancelled());
    let mut draining_seen = false;
    let mut tasks = StreamTasks::new(rounds.waker().clone());
    // Draining and keep-alive are polled only when they woke, not in
    // every round a message causes.
    let controls = WakeFlag::new(rounds.waker().clone());
    let mut reading = true;
    let mut writing = true;
    let mut outcome = Ok(());
    let mut opened = Vec::new();
    poll_fn(move |task_cx| {
        let cx = &mut rounds.begin(task_cx);
        for _ in 0..MAX_ROUNDS {
            if controls.take() {
                let controls_cx = &mut Context::from_waker(controls.waker());
                let mut conn = lock(&shared);
                if !draining_seen && draining.as_mut().poll(controls_cx).is_ready() {
                    draining_seen = true;
                    conn.begin_shutdown();
                }
                match keep_alive.as_mut().map(|k| k.poll(controls_cx)) {
                    Some(Poll::Ready(Due::Ping)) => conn.ping(),
                    Some(Poll::Ready(Due::Dead)) => {
                        tracing::debug!("HTTP/2 connection dropped: keep-alive ping not answered");
                        conn.close_unresponsive();
                    }
                    Some(Poll::Pending) | None => {}
                }
                timeouts.poll(controls_cx, &mut conn);
            }
            let mut paused = false;
            if reading {
                match read_frames(cx, &mut io, &mut reader, &shared, &mut opened) {
                    Reading::Ended(result) => {
                        reading = false;
                        if let Err(e) = result {
                            outcome = Err(e);
                        }
                    }
                    Reading::Waiting => {}
                    Reading::Paused => paused = true,
                }
            }
            if opened
                .iter()
                .any(|o| !o.end_stream && o.request.method() != Method::CONNECT)
            {
                timeouts.body_stream_opened(&mut Context::from_waker(controls.waker()));
            }
            for opened in opened.drain(..) {
                let stream = StreamRef::adopt(shared.clone(), opened.id);
                let spawner = tasks.spawner().clone();
                tasks.push(dispatch(&service, opened, stream, spawner));
            }
            tasks.run_ready();
            let mut conn = lock(&shared);
            if conn.take_keep_alive_answered() {
                if let Some(keep_alive) = keep_alive.as_mut() {
                    keep_alive.answered();
                    controls.waker().wake_by_ref();
                }
            }
            if conn.drain_answered() {
                conn.finish_shutdown();
            }
            if writing {
                match poll_flush_output(conn.output(), cx, &mut io) {
                    Poll::Ready(Ok(())) => {
                        conn.output_drained();
                        if paused {
                            // Nothing else wakes the reading.
                            rounds.waker().wake_by_ref();
                        }
                    }
                    Poll::Ready(Err(e)) => {
                        writing = false;
                        conn.end("the socket failed");
                        outcome = Err(e);
                    }
                    Poll::Pending => {}
                }
            }
            // An ended connection tried to write its GOAWAY above; it
            // does not wait for a client that stopped reading.
            let flushed = !writing || conn.output().is_empty() || conn.ended().is_some();
            if conn.is_done() && flushed && tasks.is_empty() {
                return Poll::Ready(std::mem::replace(&mut outcome, Ok(())));
            }
            if conn.ended().is_some() {
                reading = false;
            }
            drop(conn);
            if !rounds.another_round() {
                return Poll::Pending;
            }
        }
        rounds.yield_now(task_cx);
        Poll::Pending
    })
    .await
}

/// Where reading a connection stands.
enum Reading {
    /// The connection ended (the socket's error, if that ended it).
    Ended(io::Result<()>),
    /// The socket has no more for now; it wakes the task when it has.
    Waiting,
    /// The output backed up: reading resumes once it drains.
    Paused,
}

/// Reads and handles frames until the socket has no more for now, the
/// output backs up, or the connection ends. Requests opened are added to
/// `opened`.
fn read_frames<I: AsyncRead + Unpin>(
    cx: &mut Context<'_>,
    io: &mut I,
    reader: &mut FrameReader,
    shared: &SharedConn,
    opened: &mut Vec<Opened>,
) -> Reading {
    loop {
        {
            let mut conn = lock(shared);
            while let Some(next) = reader.next_frame() {
                let handled =
                    next.and_then(|(header, payload)| match Frame::decode(header, payload) {
                        Ok(frame) => conn.handle_frame(frame).map(|new| opened.extend(new)),
                        Err(e) => conn.handle_decode_error(header.kind, e),
                    });
                if let Err(e) = handled {
                    tracing::debug!("HTTP/2 connection failed: {e}");
                    conn.fail(&e);
                }
                if conn.ended().is_some() {
                    return Reading::Ended(Ok(()));
                }
            }
            if conn.output_backed_up() {
                return Reading::Paused;
            }
        }
        match reader.poll_fill(cx, io) {
            Poll::Ready(Ok(0)) => {
                lock(shared).end("closed by the client");
                return Reading::Ended(Ok(()));
            }
            Poll::Ready(Ok(_)) => {}
            Poll::Ready(Err(e)) => {
                lock(shared).end("the socket failed");
                return Reading::Ended(Err(e));
            }
            Poll::Pending => {
                reader.release_if_empty();
                return Reading::Waiting;
            }
        }
    }
}

/// Hands a request stream to the service, and returns the task that
/// sends its answer. An extended CONNECT goes with an empty body: its
/// stream is the tunnel, handed over once the service accepts it.
fn dispatch<S: HttpService>(
    service: &S,
    opened: Opened,
    stream: StreamRef,
    stream_tasks: StreamSpawner,
) -> StreamTask {
    let (mut parts, ()) = opened.request.into_parts();
    let head_only = parts.method == Method::HEAD;
    let is_tunnel = parts.method == Method::CONNECT && opened.protocol.is_some();
    if let Some(protocol) = &opened.protocol {
        parts
            .extensions
            .insert(h2::ext::Protocol::from(protocol.as_str()));
    }
    let (body, tunnel) = if is_tunnel {
        let (tunnel, slot) = upgrade_slot(Some(stream_tasks));
        parts.extensions.insert(slot);
        (RequestBody::empty(), Some(tunnel))
    } else if opened.end_stream {
        (RequestBody::empty(), None)
    } else {
        (RequestBody::http2(stream.clone()), None)
    };
    let future = service.call(Request::from_parts(parts, body));
    Box::pin(Respond::new(future, stream, tunnel, head_only))
}
