//! Serving an HTTP/1.1 connection: requests read one after another
//! (pipelined ones kept until their turn, their answers written
//! together), each answered by the service, bodies streamed both ways, a
//! `101` handing the connection to the [`Upgrade`](crate::Upgrade) that
//! accepted it.
//!
//! A connection waiting long (an event stream, a held poll, keep-alive)
//! holds no buffers: it watches for the client's next bytes or its
//! closing through a small read on the stack. A client that closes its
//! side ends what is still waiting for it: a held request's service, an
//! event stream's body.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http::{Method, Request, Response, StatusCode};
use http_body::SizeHint;
use pushwire_proto::http1::{self, Head, HeadError};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::body::{body_channel, BodySender, Want};
use super::decode::{size_hint, Decoder, Framing, Piece};
use super::encode::{write_head, Answering, Encoder};
use crate::http::body::BoxError;
use crate::http::connection::ConnectionInfo;
use crate::http::request_body::RequestBody;
use crate::http::service::HttpService;
use crate::http::shutdown::Shutdown;
use crate::http::upgrade_slot::{upgrade_slot, Handover};
use crate::io::{poll_read_on_stack, WriteQueue};

/// How long an idle keep-alive connection stays open once a restart
/// begins, for a request already on its way (answered with
/// `Connection: close`); a stop closes idle connections at once.
const RESTART_IDLE_GRACE: Duration = Duration::from_secs(1);

/// How much a connection reads at a time.
const READ_SIZE: usize = 8192;
/// What a connection without a read buffer reads into, on the stack.
const PROBE_SIZE: usize = 2048;
/// Response bytes gathered before they are written, while the body has
/// more ready.
const WRITE_BATCH: usize = 64 << 10;
/// A request body the service left unread is read and dropped after the
/// response, up to this much, so that the connection stays open; a
/// longer one closes it.
const DRAIN_LIMIT: u64 = 256 << 10;
/// How long a closing connection keeps reading (and dropping) what the
/// client still sends, so that its response is not lost to a TCP reset.
const LINGER: Duration = Duration::from_secs(1);
/// How long the answers to pipelined requests may wait for the answer
/// after them, to go out in one write, while that answer is awaited.
const PIPELINE_HOLD: Duration = Duration::from_millis(1);

/// What a request body must deliver within the body-read timeout, once
/// the service asks for more of it (unless it ends first): a body that
/// drips a few bytes at a time is timed out like one that stalls.
const MIN_BODY_PROGRESS: u64 = 1024;

const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// The settings every HTTP/1.1 connection of a server shares.
#[derive(Debug, Clone)]
pub(crate) struct Http1Settings {
    pub(crate) header_read_timeout: Duration,
    /// How long a request body may take to deliver
    /// [`MIN_BODY_PROGRESS`] bytes (or its end) while the service waits
    /// for it; then `408` and the connection closes.
    pub(crate) body_read_timeout: Duration,
    pub(crate) max_header_bytes: usize,
}

/// Serves one HTTP/1.1 connection whose first bytes, `read_ahead`, were
/// already read. `keep_alive: false` answers one request and closes
/// (a refused connection); once `draining` is cancelled each response
/// closes its connection, and an idle connection closes at once.
///
/// (A function returning an `async move` block rather than an `async fn`:
/// the block uses its captures in place, where an `async fn` would keep
/// its arguments twice in the connection's task.)
pub(crate) fn serve_http1<'a, I, S>(
    io: I,
    read_ahead: Bytes,
    settings: &'a Http1Settings,
    mut service: S,
    draining: &'a CancellationToken,
    keep_alive: bool,
    info: ConnectionInfo,
) -> impl Future<Output = ()> + 'a
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: HttpService + 'a,
{
    let mut conn = Conn {
        io,
        read: BytesMut::from(read_ahead),
        read_closed: false,
        write: WriteQueue::default(),
        max_header_bytes: u32::try_from(settings.max_header_bytes).unwrap_or(u32::MAX),
        info,
    };
    async move {
        loop {
            // Reading a request and awaiting the service's answer is boxed, as
            // is what follows a response: a connection whose response lasts
            // (an event stream) keeps only what sends it in its task.
            let next = next_answer(&mut conn, &mut service, settings, draining, keep_alive);
            let (body, mut sending) = match Box::pin(next).await.map(|a| conn.start_response(a)) {
                None => return,
                Some(Started::Body(body, sending)) => (body, sending),
                Some(Started::Upgrade(handover)) => return Box::pin(conn.upgrade(handover)).await,
            };
            let sent = {
                let mut body = pin!(body);
                poll_fn(|cx| conn.poll_send(cx, body.as_mut(), &mut sending)).await
            };
            if !Box::pin(conn.finish(sent, sending)).await {
                return;
            }
        }
    }
}

/// Reads the next request and hands it to the service: its answer, or
/// `None` once the connection is done (closed, refused, timed out).
async fn next_answer<I, S>(
    conn: &mut Conn<I>,
    service: &mut S,
    settings: &Http1Settings,
    draining: &CancellationToken,
    keep_alive: bool,
) -> Option<Answered<S::ResBody>>
where
    I: AsyncRead + AsyncWrite + Unpin,
    S: HttpService,
{
    let idle = conn.read.is_empty();
    let timeout = settings.header_read_timeout;
    let head = tokio::select! {
        // The head first: a request that arrives as the server begins
        // draining is read (and answered with `Connection: close`), not
        // cut off with its bytes unread.
        biased;
        head = tokio::time::timeout(timeout, conn.read_head()) => head,
        () = draining.cancelled(), if idle => {
            if conn.read.is_empty() && conn.info.shutdown() == Some(Shutdown::Restart) {
                // Another process or node serves on: a request the client
                // sent before it could see this connection close is still
                // taken if it arrives within the grace.
                let first_bytes = poll_fn(|cx| conn.poll_fill(cx));
                let _ = tokio::time::timeout(RESTART_IDLE_GRACE, first_bytes).await;
            }
            if conn.read.is_empty() {
                return None;
            }
            tokio::time::timeout(timeout, conn.read_head()).await
        }
    };
    let remote_addr = conn.info.remote_addr();
    let head = match head {
        Ok(Ok(Some(head))) => head,
        Ok(Ok(None)) => return None,
        Ok(Err(HeadFailure::Io(e))) => {
            tracing::debug!("{remote_addr}: connection ended: {e}");
            return None;
        }
        Ok(Err(HeadFailure::Refused(e))) => {
            if e == HeadError::TooLarge {
                tracing::info!("{remote_addr}: 431: {e}");
            } else {
                tracing::debug!("{remote_addr}: {}: {e}", e.status().as_u16());
            }
            conn.refuse(e.status(), &e.to_string());
            conn.close().await;
            return None;
        }
        Err(_) => {
            if !conn.read.iter().all(u8::is_ascii_whitespace) {
                // A head begun and not finished: answered, since the
                // client is there to read it (RFC 9110 section 15.5.9).
                tracing::info!("{remote_addr}: 408: request head not received within {timeout:?}");
                conn.refuse(
                    StatusCode::REQUEST_TIMEOUT,
                    "request head not received in time",
                );
                conn.close().await;
            }
            return None;
        }
    };
    let keep_alive = keep_alive && !draining.is_cancelled();
    let body_timeout = settings.body_read_timeout;
    match conn.answer(head, service, keep_alive, body_timeout).await {
        Ok(Ok(answered)) => Some(answered),
        Ok(Err(e)) => {
            tracing::debug!("{remote_addr}: service failed: {e}");
            conn.refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal server error");
            conn.close().await;
            None
        }
        Err(Interrupted::BodyTimedOut) => {
            tracing::info!("{remote_addr}: 408: request body stalled for {body_timeout:?}");
            conn.refuse(
                StatusCode::REQUEST_TIMEOUT,
                "request body not received in time",
            );
            conn.close().await;
            None
        }
        Err(e) => {
            conn.log_interrupted(&e);
            None
        }
    }
}

/// Why a request head was not read.
enum HeadFailure {
    Io(io::Error),
    /// Answered with the error's status, then closed.
    Refused(HeadError),
}

/// A service's answer, with what its response needs of the request.
struct Answered<B> {
    response: Response<B>,
    /// The request body, while it is still being read.
    feed: Option<Feed>,
    /// Where the connection goes if the response is a `101`.
    handover: Option<oneshot::Sender<Handover>>,
    answering: Answering,
}

/// A response being sent.
enum Started<B> {
    /// Its body, and how it goes.
    Body(B, Sending),
    /// A `101`, queued: the connection goes to the upgrade, if the request
    /// asked for one.
    Upgrade(Option<oneshot::Sender<Handover>>),
}

/// How a response body goes out, and what is left of the request's.
struct Sending {
    encoder: Encoder,
    /// The request body, while it is still being read.
    feed: Option<Feed>,
    /// The connection may take the next request after this response.
    keep_alive: bool,
}

/// Why an exchange ended early.
enum Interrupted {
    /// The client closed the connection while its response was awaited.
    Gone,
    Io(io::Error),
    /// The response body failed.
    Body(BoxError),
    /// The request body did not arrive within the body-read timeout.
    BodyTimedOut,
}

impl From<io::Error> for Interrupted {
    fn from(e: io::Error) -> Self {
        Interrupted::Io(e)
    }
}

/// One connection's IO and buffers.
struct Conn<I> {
    io: I,
    /// Bytes read but not used yet.
    read: BytesMut,
    /// The client closed its sending side.
    read_closed: bool,
    write: WriteQueue,
    /// The most bytes a request head may take. (A `u32`, which packs
    /// with the flag above: every byte of an idle connection counts.)
    max_header_bytes: u32,
    /// For the log lines.
    info: ConnectionInfo,
}

impl<I: AsyncRead + AsyncWrite + Unpin> Conn<I> {
    /// Reads more into the read buffer; `Ok(0)` when the client closed.
    /// Without a buffer, reads into a small one on the stack first: a
    /// connection that waits allocates nothing until bytes arrive.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let n = if self.read.capacity() == 0 {
            let read = &mut self.read;
            let keep = |bytes: &[u8]| read.extend_from_slice(bytes);
            ready!(poll_read_on_stack::<PROBE_SIZE, _>(cx, &mut self.io, keep))?
        } else {
            if self.read.capacity() - self.read.len() < READ_SIZE / 8 {
                self.read.reserve(READ_SIZE);
            }
            ready!(tokio_util::io::poll_read_buf(
                Pin::new(&mut self.io),
                cx,
                &mut self.read
            ))?
        };
        if n == 0 {
            self.read_closed = true;
        }
        Poll::Ready(Ok(n))
    }

    /// Watches the connection while nothing else reads it: keeps what a
    /// pipelining client sends next (up to a head's limit), and is ready
    /// once the client has closed its side.
    fn poll_watch(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.read_closed {
            if self.read.len() >= self.max_header_bytes as usize {
                return Poll::Pending;
            }
            ready!(self.poll_fill(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.write.poll_flush(cx, &mut self.io)
    }

    /// Whether a response just queued may wait for the next one: the
    /// whole head of the next request is read already (the client
    /// pipelines), the request before it was read to its end, and the
    /// queue is under a write's worth.
    fn holds_next_request(&self, feed: Option<&Feed>) -> bool {
        feed.map_or(true, |feed| feed.decoder.is_ended())
            && self.write.buffered() < WRITE_BATCH
            && http1::is_complete(&self.read, 0)
    }

    /// Frees the buffers that are empty, before a wait that may be long.
    fn release(&mut self) {
        if self.read.is_empty() {
            self.read = BytesMut::new();
        }
        self.write.release();
    }

    /// Reads the next request head; `None` when the client closed the
    /// connection between requests.
    async fn read_head(&mut self) -> Result<Option<Head>, HeadFailure> {
        let mut scanned = 0;
        loop {
            if http1::is_complete(&self.read, scanned) {
                match http1::parse(&self.read) {
                    Ok(Some((len, _))) if len > self.max_header_bytes as usize => {
                        return Err(HeadFailure::Refused(HeadError::TooLarge))
                    }
                    Ok(Some((len, head))) => {
                        self.read.advance(len);
                        return Ok(Some(head));
                    }
                    Ok(None) => {}
                    Err(e) => return Err(HeadFailure::Refused(e)),
                }
            }
            if self.read.len() >= self.max_header_bytes as usize {
                return Err(HeadFailure::Refused(HeadError::TooLarge));
            }
            scanned = self.read.len();
            if !self.write.is_empty() {
                // Answers held for a pipelined request go before any wait.
                poll_fn(|cx| self.poll_flush(cx))
                    .await
                    .map_err(HeadFailure::Io)?;
            }
            let n = poll_fn(|cx| self.poll_fill(cx))
                .await
                .map_err(HeadFailure::Io)?;
            if n == 0 {
                return if self.read.iter().all(u8::is_ascii_whitespace) {
                    Ok(None)
                } else {
                    Err(HeadFailure::Io(io::ErrorKind::UnexpectedEof.into()))
                };
            }
        }
    }

    /// Hands a request to the service: its answer, with what the
    /// response needs of the request.
    async fn answer<S: HttpService>(
        &mut self,
        head: Head,
        // `&mut`: held across awaits, it keeps the task `Send` without
        // asking the service to be `Sync`.
        service: &mut S,
        keep_alive: bool,
        body_timeout: Duration,
    ) -> Result<Result<Answered<S::ResBody>, BoxError>, Interrupted> {
        let Head {
            mut parts,
            framing,
            keep_alive: client_keep_alive,
            upgrade,
            expect_continue,
        } = head;
        let answering = Answering {
            version: parts.version,
            head_only: parts.method == Method::HEAD,
            keep_alive: keep_alive && client_keep_alive,
        };
        let (body, mut feed) = match framing {
            Framing::Empty => (RequestBody::empty(), None),
            // The whole body came with the head (a small POST, as API
            // calls are): the service takes it as it is, with no channel,
            // no body clock and no wake-ups of the connection to feed it.
            Framing::Length(len) if !expect_continue && self.read.len() as u64 >= len => {
                let body = self.read.split_to(len as usize).freeze();
                (RequestBody::whole(body), None)
            }
            Framing::Length(_) | Framing::Chunked => {
                let (sender, receiver) = body_channel(size_hint(framing));
                let feed = Feed {
                    sender,
                    decoder: Decoder::new(framing),
                    expect_continue,
                    failed: false,
                    abandoned: false,
                    clock: BodyClock::new(body_timeout),
                };
                (RequestBody::http1(receiver), Some(feed))
            }
        };
        let handover = upgrade.then(|| {
            let (handover, slot) = upgrade_slot(None);
            parts.extensions.insert(slot);
            handover
        });
        self.release();
        let mut answer = pin!(service.call(Request::from_parts(parts, body)));
        let mut hold = None;
        let response =
            poll_fn(|cx| self.poll_answer(cx, answer.as_mut(), &mut feed, &mut hold)).await?;
        Ok(match response {
            Ok(response) => Ok(Answered {
                response,
                feed,
                handover,
                answering,
            }),
            Err(e) => Err(e.into()),
        })
    }

    /// Queues the response's head: what sends its body, or the upgrade.
    fn start_response<B: http_body::Body>(&mut self, answered: Answered<B>) -> Started<B> {
        let Answered {
            response,
            feed,
            handover,
            mut answering,
        } = answered;
        if feed
            .as_ref()
            .is_some_and(|feed| !feed.decoder.is_ended() && !feed.can_drain())
        {
            // The rest of the request body will not be read (too long, or
            // broken): the connection closes after this response, and
            // says so (a 413 for a body too long, say).
            answering.keep_alive = false;
        }
        let (mut parts, body) = response.into_parts();
        let (encoder, keep_alive) =
            write_head(&mut parts, &body.size_hint(), answering, &mut self.write);
        if parts.status == StatusCode::SWITCHING_PROTOCOLS {
            return Started::Upgrade(handover);
        }
        Started::Body(
            body,
            Sending {
                encoder,
                feed,
                keep_alive,
            },
        )
    }

    /// Sends the `101` queued, then hands the connection over.
    async fn upgrade(mut self, handover: Option<oneshot::Sender<Handover>>)
    where
        I: Send + 'static,
    {
        if let Err(e) = poll_fn(|cx| self.poll_flush(cx)).await {
            self.log_interrupted(&Interrupted::Io(e));
            return;
        }
        // A `101` to a request that asked for no upgrade ends the connection.
        if let Some(handover) = handover {
            let leftover = self.read.split().freeze();
            let _ = handover.send(Handover::Connection {
                io: Box::new(self.io),
                leftover,
            });
        }
    }

    /// After a response: whether the connection takes the next request.
    /// Reads what the service left of the request body, or closes.
    async fn finish(&mut self, sent: Result<(), Interrupted>, mut sending: Sending) -> bool {
        if let Err(e) = sent {
            self.log_interrupted(&e);
            return false;
        }
        let mut keep_alive = sending.keep_alive && sending.encoder != Encoder::UntilClose;
        if let Some(feed) = sending
            .feed
            .as_mut()
            .filter(|feed| !feed.decoder.is_ended())
        {
            keep_alive = keep_alive && feed.drain(self).await;
        }
        if keep_alive && !(self.read_closed && self.read.is_empty()) {
            self.release();
            true
        } else {
            self.close().await;
            false
        }
    }

    fn log_interrupted(&self, e: &Interrupted) {
        let remote_addr = self.info.remote_addr();
        match e {
            Interrupted::Gone => {}
            Interrupted::Io(e) => tracing::debug!("{remote_addr}: connection ended: {e}"),
            Interrupted::Body(e) => tracing::debug!("{remote_addr}: response body failed: {e}"),
            Interrupted::BodyTimedOut => {
                tracing::info!("{remote_addr}: closed: the request body stalled");
            }
        }
    }

    /// Polls the service's answer, meanwhile feeding it the request body
    /// it asks for, or else watching the connection. Answers held for
    /// this one (pipelined requests before it) are written once it has
    /// kept them [`PIPELINE_HOLD`], timed by `hold`.
    fn poll_answer<F, T, E>(
        &mut self,
        cx: &mut Context<'_>,
        mut answer: Pin<&mut F>,
        feed: &mut Option<Feed>,
        hold: &mut Option<Pin<Box<tokio::time::Sleep>>>,
    ) -> Poll<Result<Result<T, E>, Interrupted>>
    where
        F: Future<Output = Result<T, E>>,
    {
        loop {
            if let Poll::Ready(answered) = answer.as_mut().poll(cx) {
                return Poll::Ready(Ok(answered));
            }
            if !self.write.is_empty() {
                let held = hold.get_or_insert_with(|| Box::pin(tokio::time::sleep(PIPELINE_HOLD)));
                if held.as_mut().poll(cx).is_ready() {
                    if let Poll::Ready(Err(e)) = self.poll_flush(cx) {
                        return Poll::Ready(Err(e.into()));
                    }
                }
            }
            match feed.as_mut().filter(|feed| feed.is_open()) {
                Some(feed) => {
                    ready!(feed.poll(cx, self));
                    if feed.clock.timed_out {
                        return Poll::Ready(Err(Interrupted::BodyTimedOut));
                    }
                }
                None => {
                    ready!(self.poll_watch(cx))?;
                    return Poll::Ready(Err(Interrupted::Gone));
                }
            }
        }
    }

    /// Sends the response body (the head is queued already), meanwhile
    /// feeding the request body to whoever reads it, or else watching
    /// the connection.
    fn poll_send<B>(
        &mut self,
        cx: &mut Context<'_>,
        mut body: Pin<&mut B>,
        sending: &mut Sending,
    ) -> Poll<Result<(), Interrupted>>
    where
        B: http_body::Body,
        B::Error: Into<BoxError>,
    {
        let Sending { encoder, feed, .. } = sending;
        loop {
            let mut progressed = false;
            let reading = feed.as_mut().filter(|feed| feed.is_open());
            let mut timed_out = false;
            let reading = reading.is_some_and(|feed| {
                progressed |= feed.poll(cx, self).is_ready();
                timed_out = feed.clock.timed_out;
                true
            });
            if timed_out {
                return Poll::Ready(Err(Interrupted::BodyTimedOut));
            }
            let mut waiting = false;
            while !encoder.is_done() && self.write.buffered() < WRITE_BATCH {
                let frame = match body.as_mut().poll_frame(cx) {
                    Poll::Pending => {
                        waiting = true;
                        break;
                    }
                    Poll::Ready(None) => {
                        encoder.end(None, &mut self.write)?;
                        break;
                    }
                    Poll::Ready(Some(Err(e))) => {
                        return Poll::Ready(Err(Interrupted::Body(e.into())))
                    }
                    Poll::Ready(Some(Ok(frame))) => frame,
                };
                progressed = true;
                match frame.into_data() {
                    Ok(mut data) => {
                        let data = data.copy_to_bytes(data.remaining());
                        encoder.data(data, &mut self.write)?;
                    }
                    Err(frame) => {
                        if let Ok(trailers) = frame.into_trailers() {
                            encoder.end(Some(&trailers), &mut self.write)?;
                        }
                    }
                }
            }
            if encoder.is_done() && self.holds_next_request(feed.as_ref()) {
                // The client pipelines: this answer goes out with the next
                // one, in one write.
                return Poll::Ready(Ok(()));
            }
            if let Poll::Ready(flushed) = self.poll_flush(cx) {
                flushed?;
                if encoder.is_done() {
                    return Poll::Ready(Ok(()));
                }
            }
            if waiting && !reading {
                if self.poll_watch(cx)?.is_ready() {
                    return Poll::Ready(Err(Interrupted::Gone));
                }
                // Until the body has more, the buffers keep no memory (the
                // read buffer, once the request body it held is taken).
                self.release();
            }
            if !progressed {
                return Poll::Pending;
            }
        }
    }

    /// Queues a short plain-text answer that closes the connection.
    fn refuse(&mut self, status: StatusCode, text: &str) {
        let mut response = Response::new(());
        *response.status_mut() = status;
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        let (mut parts, ()) = response.into_parts();
        let body = Bytes::from(format!("{text}\n"));
        let answering = Answering {
            version: http::Version::HTTP_11,
            head_only: false,
            keep_alive: false,
        };
        let hint = SizeHint::with_exact(body.len() as u64);
        let (mut encoder, _) = write_head(&mut parts, &hint, answering, &mut self.write);
        let _ = encoder.data(body, &mut self.write);
    }

    /// Writes what is queued, closes the sending side, and reads what
    /// the client still sends for a moment, so that the kernel does not
    /// answer it with a reset that could destroy the response in flight.
    async fn close(&mut self) {
        let closing = async {
            poll_fn(|cx| self.poll_flush(cx)).await?;
            self.io.shutdown().await?;
            self.read = BytesMut::new();
            let mut dropped = 0;
            while !self.read_closed && dropped < DRAIN_LIMIT as usize {
                dropped += poll_fn(|cx| self.poll_fill(cx)).await?;
                self.read.clear();
            }
            io::Result::Ok(())
        };
        let _ = tokio::time::timeout(LINGER, closing).await;
    }
}

/// The request body on its way from the connection to the service.
struct Feed {
    sender: BodySender,
    decoder: Decoder,
    /// `100 Continue` is owed once the body is first asked for.
    expect_continue: bool,
    /// The body could not be read: the connection cannot go on.
    failed: bool,
    /// The service dropped the body before its end.
    abandoned: bool,
    /// The body-read timeout.
    clock: BodyClock,
}

/// The body-read timeout of one request: armed when the service waits
/// for body bytes that have not arrived, disarmed once
/// [`MIN_BODY_PROGRESS`] bytes came (or the service stops asking).
struct BodyClock {
    timeout: Duration,
    /// While armed: when it fires, and the bytes received since it was
    /// armed.
    armed: Option<(Pin<Box<tokio::time::Sleep>>, u64)>,
    timed_out: bool,
}

impl BodyClock {
    fn new(timeout: Duration) -> Self {
        BodyClock {
            timeout,
            armed: None,
            timed_out: false,
        }
    }

    fn received(&mut self, n: usize) {
        if let Some((_, progress)) = &mut self.armed {
            *progress += n as u64;
            if *progress >= MIN_BODY_PROGRESS {
                self.armed = None;
            }
        }
    }

    /// Called while the service waits for bytes that have not arrived:
    /// arms the clock if it is not, and is ready once it fires.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let timeout = self.timeout;
        let (sleep, _) = self
            .armed
            .get_or_insert_with(|| (Box::pin(tokio::time::sleep(timeout)), 0));
        ready!(sleep.as_mut().poll(cx));
        self.timed_out = true;
        Poll::Ready(())
    }
}

impl Feed {
    /// Whether there is more to hand over.
    fn is_open(&self) -> bool {
        !(self.decoder.is_ended() || self.failed || self.abandoned)
    }

    /// Whether what is left of the body can be read and dropped after the
    /// response ([`Feed::drain`]), keeping the connection: a body of known
    /// length, within [`DRAIN_LIMIT`], whose client is not waiting for
    /// `100 Continue`.
    fn can_drain(&self) -> bool {
        !self.failed
            && !self.expect_continue
            && self
                .decoder
                .length_left()
                .is_some_and(|left| left <= DRAIN_LIMIT)
    }

    /// Hands over the next piece once the service asks for it: ready when
    /// something happened (a piece or an error handed over, the body
    /// dropped), pending while the service does not ask or the client
    /// has not sent more.
    fn poll<I: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        cx: &mut Context<'_>,
        conn: &mut Conn<I>,
    ) -> Poll<()> {
        match self.sender.poll_want(cx) {
            Poll::Ready(Want::Gone) => {
                self.abandoned = true;
                return Poll::Ready(());
            }
            Poll::Ready(Want::Next) => {}
            Poll::Pending => {
                // The service does not ask: the client is not late.
                self.clock.armed = None;
                return Poll::Pending;
            }
        }
        if self.expect_continue {
            self.expect_continue = false;
            conn.write.push(Bytes::from_static(CONTINUE));
            // An error shows on the response's own write.
            let _ = conn.poll_flush(cx);
        }
        loop {
            match self.decoder.decode(&mut conn.read) {
                Ok(Some(piece)) => {
                    self.sender.send(Ok(piece));
                    return Poll::Ready(());
                }
                Ok(None) if conn.read_closed => {
                    let e = io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed before the request body ended",
                    );
                    return self.fail(e);
                }
                Ok(None) => {}
                Err(e) => return self.fail(e.into()),
            }
            match conn.poll_fill(cx) {
                Poll::Ready(Ok(n)) => self.clock.received(n),
                Poll::Ready(Err(e)) => return self.fail(e),
                Poll::Pending => {
                    ready!(self.clock.poll_expired(cx));
                    let e = io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the request body stalled past the body-read timeout",
                    );
                    return self.fail(e);
                }
            }
        }
    }

    fn fail(&mut self, e: io::Error) -> Poll<()> {
        self.failed = true;
        self.sender.send(Err(e));
        Poll::Ready(())
    }

    /// Reads the rest of a body the service left, dropping it: whether
    /// the connection can take the next request.
    async fn drain<I: AsyncRead + AsyncWrite + Unpin>(&mut self, conn: &mut Conn<I>) -> bool {
        if self.failed || self.expect_continue {
            // Broken framing, or a client still waiting for `100 Continue`
            // before it sends the body.
            return false;
        }
        let mut left = DRAIN_LIMIT;
        let drained = poll_fn(|cx| loop {
            match self.decoder.decode(&mut conn.read) {
                Ok(Some(Piece::Data(data))) if data.len() as u64 <= left => {
                    left -= data.len() as u64;
                }
                Ok(Some(Piece::Data(_))) | Err(_) => return Poll::Ready(false),
                Ok(Some(Piece::End | Piece::Trailers(_))) => return Poll::Ready(true),
                Ok(None) if conn.read_closed => return Poll::Ready(false),
                Ok(None) => {
                    if ready!(conn.poll_fill(cx)).is_err() {
                        return Poll::Ready(false);
                    }
                }
            }
        });
        tokio::time::timeout(LINGER, drained).await.unwrap_or(false)
    }
}
