//! WebSocket (RFC 6455) over any async byte stream: the connection, its
//! settings, the server handshake on a raw stream and the client.

mod accept;
pub(crate) mod buffers;
mod client;
mod config;
mod echo;
mod read;
mod shared_deflate;
mod split;

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll, Waker};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use pushwire_proto::ws::deflate::{DeflateConfig, DeflateParams, Deflater, Inflater};
use pushwire_proto::{CloseCode, CloseFrame, Message, Receiver, Role, Sender};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Sleep;

use crate::error::Error;
use crate::io::WriteQueue;
use crate::task::ping_timer::{Due, PingTimer};
pub use accept::accept;
use buffers::FindBuffers;
pub use client::{connect, ClientBuilder, ClientStream};
pub use config::WebSocketConfig;
use read::{ReadState, Received};
use split::{Side, WriteWakers};
pub use split::{WsReader, WsWriter};

/// What the opening handshake agreed on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Negotiated {
    /// The subprotocol chosen by the server.
    pub protocol: Option<String>,
    /// The permessage-deflate parameters, when compression is on.
    pub deflate: Option<DeflateParams>,
}

/// The future of [`WebSocket::send`]: queues the message once there is
/// room, then flushes. A named type rather than an `async fn`, so that it
/// adds only a pointer and the message to every connection task.
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct SendFuture<'a, S> {
    ws: &'a mut WebSocket<S>,
    message: Option<Message>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Future for SendFuture<'_, S> {
    type Output = Result<(), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.message.is_some() {
            ready!(this.ws.poll_ready(cx))?;
            let message = this.message.take().expect("checked above");
            this.ws.start_send(message)?;
        }
        this.ws.poll_flush(cx)
    }
}

/// Where the close handshake stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// This side sent a close frame and waits for the reply.
    CloseSent,
    /// The close handshake is over (or failed): flush, shut down, then
    /// report the result (kept in [`Rare::close_result`]) once.
    Closing,
    Done,
}

/// What the handshake agrees on when it agrees on nothing.
static NOTHING_NEGOTIATED: Negotiated = Negotiated {
    protocol: None,
    deflate: None,
};

/// State that most connections never need, kept behind one pointer so an
/// idle connection stays small; allocated on first use.
#[derive(Debug)]
struct Rare<S> {
    keepalive: Option<PingTimer>,
    /// The deadline of the message in progress, kept between messages so
    /// that only the first message that waits for more bytes allocates it.
    message_timer: Option<Pin<Box<Sleep>>>,
    /// Whether `message_timer` times the message in progress.
    message_timer_armed: bool,
    close_timer: Option<Pin<Box<Sleep>>>,
    /// What to report once the close handshake is over.
    close_result: Option<Result<Message, Error>>,
    /// Set once split: both halves may write, so both must be woken.
    split_wakers: Option<(Arc<WriteWakers>, Waker)>,
    /// Finds the stream under `S` that takes the queued buffers
    /// themselves rather than copies, and hands out what it received as
    /// it is (an HTTP/2 stream).
    buffers: Option<FindBuffers<S>>,
}

/// A WebSocket's two timeouts in whole milliseconds (rounded up), 8 bytes
/// where two `Duration`s take 32: every connection holds them.
#[derive(Debug, Clone, Copy)]
struct Timeouts {
    close_ms: u32,
    /// 0: no message timeout.
    message_ms: u32,
}

impl Timeouts {
    fn new(close: Duration, message: Option<Duration>) -> Self {
        let ms = |d: Duration| u32::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u32::MAX);
        Timeouts {
            close_ms: ms(close),
            message_ms: message.map_or(0, |d| ms(d).max(1)),
        }
    }

    fn close(self) -> Duration {
        Duration::from_millis(self.close_ms.into())
    }

    fn message(self) -> Option<Duration> {
        (self.message_ms > 0).then(|| Duration::from_millis(self.message_ms.into()))
    }
}

impl<S> Default for Rare<S> {
    fn default() -> Self {
        Rare {
            keepalive: None,
            message_timer: None,
            message_timer_armed: false,
            close_timer: None,
            close_result: None,
            split_wakers: None,
            buffers: None,
        }
    }
}

/// A WebSocket connection over a byte stream `S`: a TCP or TLS stream,
/// or an HTTP/2 stream.
///
/// Replies to pings and to the peer's close frame by itself, fails the
/// connection with the right close code when the peer breaks the
/// protocol, and holds no read or write buffer while idle.
///
/// ```no_run
/// # async fn demo(mut ws: pushwire::WebSocket<tokio::net::TcpStream>) -> Result<(), pushwire::Error> {
/// use pushwire::Message;
/// while let Some(message) = ws.recv().await {
///     match message? {
///         message @ (Message::Text(_) | Message::Binary(_)) => ws.send(message).await?,
///         _ => {}
///     }
/// }
/// # Ok(()) }
/// ```
///
/// Every idle connection holds one, so it is kept small: 240 bytes
/// besides the stream, checked by a test. What not every connection
/// uses (the keepalive and message timers, on by default but each can be
/// turned off; the close timer; split halves) lives behind one pointer,
/// allocated when first needed.
///
/// A peer cannot make it hold more than about one frame and one message
/// ([`Limits`](pushwire_proto::Limits)), nor for longer than the message
/// timeout, nor stay silent past the ping interval and pong timeout
/// ([`WebSocketConfig`]): what it broke is answered with a close code
/// (1002, 1007, 1009; 1008 for a message that took too long, 1001 for a
/// ping left unanswered).
#[derive(Debug)]
pub struct WebSocket<S> {
    io: S,
    read: ReadState,
    write: WriteQueue,
    sender: Sender,
    max_write_buffer: usize,
    /// The close and message timeouts
    /// ([`WebSocketConfig::close_timeout`], [`WebSocketConfig::message_timeout`]);
    /// the message timer lives in `rare`, made by the first message that
    /// waits for more bytes.
    timeouts: Timeouts,
    /// `None` when nothing was negotiated (no subprotocol, no extension).
    negotiated: Option<Box<Negotiated>>,
    rare: Option<Box<Rare<S>>>,
    state: State,
    role: Role,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// Wraps a stream whose opening handshake is done. `leftover` holds
    /// bytes read past the handshake, which belong to the first frames.
    pub fn from_upgraded(
        io: S,
        role: Role,
        config: &WebSocketConfig,
        negotiated: Negotiated,
        leftover: BytesMut,
    ) -> Self {
        let (deflater, inflater) =
            codecs(role, config.deflate.as_ref(), negotiated.deflate.as_ref());
        let min_compress = config.deflate.map_or(0, |d| d.min_compress_size);
        let keepalive = config
            .ping_interval
            .map(|interval| PingTimer::new(interval, config.pong_timeout));
        let rare = keepalive.is_some().then(|| {
            Box::new(Rare {
                keepalive,
                ..Rare::default()
            })
        });
        WebSocket {
            io,
            read: ReadState::new(Receiver::new(role, config.limits, inflater), leftover),
            write: WriteQueue::default(),
            sender: Sender::new(role, deflater, min_compress),
            max_write_buffer: config.max_write_buffer,
            timeouts: Timeouts::new(config.close_timeout, config.message_timeout),
            negotiated: (negotiated != NOTHING_NEGOTIATED).then(|| Box::new(negotiated)),
            rare,
            state: State::Open,
            role,
        }
    }

    /// What the handshake agreed on.
    pub fn negotiated(&self) -> &Negotiated {
        self.negotiated.as_deref().unwrap_or(&NOTHING_NEGOTIATED)
    }

    /// The chosen subprotocol.
    pub fn protocol(&self) -> Option<&str> {
        self.negotiated().protocol.as_deref()
    }

    /// Bytes accepted by `send` or `feed` and not yet written to the
    /// stream, like the browser's `WebSocket.bufferedAmount`.
    pub fn buffered_amount(&self) -> usize {
        self.write.buffered()
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// Receives the next message. Pings are answered automatically and
    /// also returned; a close frame is returned once, after which the
    /// stream ends with `None`.
    ///
    /// Whatever is queued ([`WebSocket::feed`], automatic replies) is
    /// written when `recv` would wait for the peer, so a loop of `recv`
    /// and `feed` writes the replies to everything one read brought in
    /// together.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Sends a message and flushes it.
    pub fn send(&mut self, message: Message) -> SendFuture<'_, S> {
        SendFuture {
            ws: self,
            message: Some(message),
        }
    }

    /// Queues a message without flushing, waiting first if the write
    /// buffer is full. Several feeds then one flush go out together.
    pub async fn feed(&mut self, message: Message) -> Result<(), Error> {
        std::future::poll_fn(|cx| self.poll_ready(cx)).await?;
        self.start_send(message)
    }

    /// Queues a text message that many connections send alike (a
    /// publication to a channel's subscribers), given as bytes the caller
    /// vouches are UTF-8: with permessage-deflate without context
    /// takeover, it is compressed once per thread for all of them. Server
    /// role only; the write buffer's bound is the caller's to keep.
    pub(crate) fn start_send_text_shared(&mut self, text: Bytes) -> Result<(), Error> {
        if !matches!(self.state, State::Open) {
            return Err(Error::closed());
        }
        let mut frame = self
            .sender
            .encode_text_with(text, [0; 4], shared_deflate::compress);
        let payload = std::mem::take(&mut frame.payload);
        self.write.push_parts(frame.header(), payload);
        Ok(())
    }

    /// Writes everything queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        std::future::poll_fn(|cx| self.poll_flush(cx)).await
    }

    /// Closes the connection: sends a close frame (code 1000 when `frame`
    /// is `None`), then reads until the peer's reply or the close timeout,
    /// discarding messages that arrive meanwhile.
    pub async fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        if matches!(self.state, State::Open) {
            let frame = frame.unwrap_or_else(|| CloseFrame::new(CloseCode::NORMAL, ""));
            self.start_send(Message::Close(Some(frame)))?;
        }
        while let Some(message) = self.recv().await {
            match message {
                Ok(_) => {}
                Err(e) if e.is_io() => break,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Splits the connection into halves usable from two tasks.
    pub fn split(mut self) -> (WsReader<S>, WsWriter<S>) {
        let wakers = Arc::new(WriteWakers::default());
        let waker = Waker::from(wakers.clone());
        self.rare().split_wakers = Some((wakers, waker));
        split::split(self)
    }

    /// The rarely used state, allocated on first use.
    fn rare(&mut self) -> &mut Rare<S> {
        self.rare.get_or_insert_with(Box::default)
    }

    fn keepalive(&mut self) -> Option<&mut PingTimer> {
        self.rare.as_mut()?.keepalive.as_mut()
    }

    /// Polls for the next message; see [`WebSocket::recv`].
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        self.poll_recv_as(cx, Side::Reader)
    }

    fn poll_recv_as(
        &mut self,
        cx: &mut Context<'_>,
        side: Side,
    ) -> Poll<Option<Result<Message, Error>>> {
        loop {
            match self.state {
                State::Done => return Poll::Ready(None),
                State::Closing => {
                    ready!(self.poll_shutdown(cx, side));
                    self.state = State::Done;
                    return Poll::Ready(self.rare.as_mut().and_then(|r| r.close_result.take()));
                }
                State::CloseSent => {
                    if self.poll_close_timer(cx).is_ready() {
                        self.enter_closing(Some(Err(Error::timeout("close handshake"))));
                        continue;
                    }
                }
                State::Open => {}
            }
            // Queued frames go out when reading would wait, so that what
            // one wake-up queues leaves in one write; earlier only when
            // the queue is full.
            if self.write.buffered() >= self.max_write_buffer {
                if let Err(e) = self.try_write_out(cx, side) {
                    return Poll::Ready(Some(Err(e)));
                }
            }
            if let Some(keepalive) = self.keepalive() {
                match keepalive.poll(cx) {
                    Poll::Ready(Due::Ping) => {
                        self.queue(Message::Ping(bytes::Bytes::new()));
                        continue;
                    }
                    Poll::Ready(Due::Dead) => {
                        // Most likely gone; if not, it learns why.
                        if matches!(self.state, State::Open) {
                            let reason = "no pong within the pong timeout";
                            let frame = CloseFrame::new(CloseCode::GOING_AWAY, reason);
                            self.queue(Message::Close(Some(frame)));
                        }
                        self.enter_closing(Some(Err(Error::timeout("no pong from peer"))));
                        continue;
                    }
                    Poll::Pending => {}
                }
            }
            let received = match self.poll_read(cx) {
                Poll::Pending => {
                    if self.poll_message_timer(cx).is_ready() {
                        if matches!(self.state, State::Open) {
                            let reason = "message not complete within the message timeout";
                            let frame = CloseFrame::new(CloseCode::POLICY_VIOLATION, reason);
                            self.queue(Message::Close(Some(frame)));
                        }
                        self.enter_closing(Some(Err(Error::timeout("message"))));
                        continue;
                    }
                    if self.write.buffered() > 0 {
                        if let Err(e) = self.try_write_out(cx, side) {
                            return Poll::Ready(Some(Err(e)));
                        }
                    }
                    return Poll::Pending;
                }
                Poll::Ready(Ok(received)) => received,
                Poll::Ready(Err(e)) if e.is_protocol() => {
                    if matches!(self.state, State::Open | State::CloseSent) {
                        let code = e.close_code().unwrap_or(CloseCode::PROTOCOL_ERROR);
                        self.queue(Message::Close(Some(CloseFrame::new(code, e.to_string()))));
                    }
                    self.enter_closing(Some(Err(e)));
                    continue;
                }
                Poll::Ready(Err(e)) => {
                    self.state = State::Done;
                    return Poll::Ready(Some(Err(e)));
                }
            };
            let message = match received {
                Received::Message(message) => message,
                Received::Eof => {
                    // A peer that only shut down its sending side still
                    // gets what was queued for it.
                    if self.write.buffered() > 0 {
                        let _ = ready!(self.poll_write_out(cx, side));
                    }
                    self.state = State::Done;
                    let e = io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "peer closed the stream without a close frame",
                    );
                    return Poll::Ready(Some(Err(e.into())));
                }
            };
            if let Some(rare) = &mut self.rare {
                if let Some(keepalive) = &mut rare.keepalive {
                    keepalive.saw_life();
                }
                if message.is_data() {
                    rare.message_timer_armed = false;
                }
            }
            match &message {
                Message::Ping(payload) if matches!(self.state, State::Open) => {
                    self.queue(Message::Pong(payload.clone()));
                }
                Message::Close(frame) => {
                    if matches!(self.state, State::Open) {
                        let reply = frame.clone();
                        self.queue(Message::Close(reply));
                    }
                    self.enter_closing(Some(Ok(message)));
                    continue;
                }
                _ => {}
            }
            return Poll::Ready(Some(Ok(message)));
        }
    }

    /// Waits until the write buffer has room for another message.
    pub fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_ready_as(cx, Side::Reader)
    }

    fn poll_ready_as(&mut self, cx: &mut Context<'_>, side: Side) -> Poll<Result<(), Error>> {
        if self.write.buffered() >= self.max_write_buffer {
            ready!(self.poll_write_out(cx, side))?;
        }
        Poll::Ready(Ok(()))
    }

    /// Queues a message after [`WebSocket::poll_ready`] said there is room.
    /// Sending a close frame starts the close handshake.
    pub fn start_send(&mut self, message: Message) -> Result<(), Error> {
        if !matches!(self.state, State::Open) {
            return Err(Error::closed());
        }
        if matches!(message, Message::Close(_)) {
            self.state = State::CloseSent;
        }
        self.queue(message);
        Ok(())
    }

    /// Writes everything queued.
    pub fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_flush_as(cx, Side::Reader)
    }

    fn poll_flush_as(&mut self, cx: &mut Context<'_>, side: Side) -> Poll<Result<(), Error>> {
        Poll::Ready(ready!(self.poll_write_out(cx, side)).map_err(Error::from))
    }

    /// Encodes a message into the write queue.
    fn queue(&mut self, message: Message) {
        let key = match self.role {
            Role::Client => rand::random(),
            Role::Server => [0; 4],
        };
        let mut frame = self.sender.encode(&message, key);
        let payload = std::mem::take(&mut frame.payload);
        self.write.push_parts(frame.header(), payload);
    }

    fn enter_closing(&mut self, result: Option<Result<Message, Error>>) {
        self.state = State::Closing;
        self.rare().close_result = result;
    }

    /// Polls the deadline of the data message in progress, if one is and
    /// a message timeout is set: armed when the message is first found
    /// waiting for more bytes, disarmed when it arrives whole.
    fn poll_message_timer(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(timeout) = self.timeouts.message() else {
            return Poll::Pending;
        };
        if !self.read.message_in_progress() {
            return Poll::Pending;
        }
        let rare = self.rare();
        let timer = match &mut rare.message_timer {
            Some(timer) if rare.message_timer_armed => timer,
            Some(timer) => {
                timer.as_mut().reset(tokio::time::Instant::now() + timeout);
                timer
            }
            None => rare
                .message_timer
                .insert(Box::pin(tokio::time::sleep(timeout))),
        };
        rare.message_timer_armed = true;
        timer.as_mut().poll(cx)
    }

    /// Polls the close deadline, arming it on first use.
    fn poll_close_timer(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let timeout = self.timeouts.close();
        self.rare()
            .close_timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)))
            .as_mut()
            .poll(cx)
    }

    /// Flushes the close frame and shuts the stream down, within the
    /// close timeout. A client then waits for the server to close the TCP
    /// connection first, as RFC 6455 section 7.1.1 asks.
    fn poll_shutdown(&mut self, cx: &mut Context<'_>, side: Side) -> Poll<()> {
        if self.poll_close_timer(cx).is_ready() {
            return Poll::Ready(());
        }
        if ready!(self.poll_write_out(cx, side)).is_err() {
            return Poll::Ready(());
        }
        let shutdown = self.poll_writing(cx, side, |_, io, cx| Pin::new(io).poll_shutdown(cx));
        if ready!(shutdown).is_err() || self.role == Role::Server {
            return Poll::Ready(());
        }
        loop {
            match ready!(self.poll_read(cx)) {
                Ok(Received::Message(_)) => continue,
                _ => return Poll::Ready(()),
            }
        }
    }

    /// Reads until the next message has arrived whole.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Result<Received, Error>> {
        let buffers = self.rare.as_ref().and_then(|rare| rare.buffers);
        match buffers.and_then(|find| find(&mut self.io)) {
            Some(stream) => self.read.poll_receive_buffers(cx, stream),
            None => self.read.poll_receive(cx, &mut self.io),
        }
    }

    /// Writes what the stream takes now without waiting for the rest; a
    /// write error ends the connection.
    fn try_write_out(&mut self, cx: &mut Context<'_>, side: Side) -> Result<(), Error> {
        match self.poll_write_out(cx, side) {
            Poll::Ready(Err(e)) => {
                self.state = State::Done;
                Err(e.into())
            }
            _ => Ok(()),
        }
    }

    fn poll_write_out(&mut self, cx: &mut Context<'_>, side: Side) -> Poll<io::Result<()>> {
        let buffers = self.rare.as_ref().and_then(|rare| rare.buffers);
        self.poll_writing(cx, side, |write, io, cx| {
            match buffers.and_then(|find| find(io)) {
                Some(stream) => buffers::poll_hand_over(write, cx, stream),
                None => write.poll_flush(cx, io),
            }
        })
    }

    /// Runs a write-side poll. Once split, both halves may write, so the
    /// stream is polled with a waker that wakes whichever halves wait.
    fn poll_writing<T>(
        &mut self,
        cx: &mut Context<'_>,
        side: Side,
        f: impl FnOnce(&mut WriteQueue, &mut S, &mut Context<'_>) -> Poll<T>,
    ) -> Poll<T> {
        let split_wakers = self.rare.as_ref().and_then(|r| r.split_wakers.as_ref());
        let shared = split_wakers.map(|split| {
            split.0.register(side, cx.waker());
            split.1.clone()
        });
        match shared {
            None => f(&mut self.write, &mut self.io, cx),
            Some(waker) => f(
                &mut self.write,
                &mut self.io,
                &mut Context::from_waker(&waker),
            ),
        }
    }
}

/// The compressor and inflater for `role` from the agreed parameters.
fn codecs(
    role: Role,
    config: Option<&DeflateConfig>,
    params: Option<&DeflateParams>,
) -> (Option<Deflater>, Option<Inflater>) {
    let Some(p) = params else {
        return (None, None);
    };
    let level = config.map_or(1, |c| c.compression_level);
    let (own_bits, own_reset, peer_reset) = match role {
        Role::Server => (
            p.server_max_window_bits,
            p.server_no_context_takeover,
            p.client_no_context_takeover,
        ),
        Role::Client => (
            p.client_max_window_bits,
            p.client_no_context_takeover,
            p.server_no_context_takeover,
        ),
    };
    (
        Some(Deflater::new(level, own_bits, own_reset)),
        Some(Inflater::new(peer_reset)),
    )
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// Reads and writes through the buffer stream `find` finds under
    /// `S`, when there is one, rather than through its bytes.
    pub(crate) fn with_buffers(mut self, find: FindBuffers<S>) -> Self {
        self.rare().buffers = Some(find);
        self
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> futures_core::Stream for WebSocket<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> futures_sink::Sink<Message> for WebSocket<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.get_mut().start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if matches!(this.state, State::Open) {
            this.start_send(Message::Close(Some(CloseFrame::new(CloseCode::NORMAL, ""))))?;
        }
        this.poll_flush(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every idle connection holds one: keep it small (issue 4: at most
    /// 1 KiB of server memory per idle connection). The stream is left
    /// out, since `TcpStream` itself differs between debug and release.
    #[test]
    fn websocket_stays_small() {
        use tokio::net::TcpStream;
        let own = std::mem::size_of::<WebSocket<TcpStream>>() - std::mem::size_of::<TcpStream>();
        assert!(own <= 240, "WebSocket<S> adds {own} bytes to S");
        assert!(std::mem::size_of::<Option<Box<Rare<TcpStream>>>>() == 8);
        // With the default keepalive every connection holds one, besides
        // its ping timer's `Sleep`.
        let rare = std::mem::size_of::<Rare<TcpStream>>();
        assert!(rare <= 160, "Rare takes {rare} bytes");
    }

    /// A stream that counts the writes made to it.
    struct CountingWrites {
        inner: tokio::io::DuplexStream,
        writes: usize,
    }

    impl AsyncRead for CountingWrites {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for CountingWrites {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.writes += 1;
            Pin::new(&mut self.inner).poll_write(cx, buf)
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_flush(cx)
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    }

    /// Sixteen messages that arrive in one read are answered, through
    /// `recv` and `feed`, in one write: made once `recv` has to wait.
    #[tokio::test]
    async fn replies_to_one_read_leave_in_one_write() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (near, mut far) = tokio::io::duplex(1 << 16);
        let io = CountingWrites {
            inner: near,
            writes: 0,
        };
        let config = WebSocketConfig::default();
        let mut ws = WebSocket::from_upgraded(
            io,
            Role::Server,
            &config,
            Negotiated::default(),
            BytesMut::new(),
        );
        let mut client = Sender::new(Role::Client, None, 0);
        let mut burst = Vec::new();
        for n in 0..16 {
            let frame = client.encode(&Message::text(format!("message {n}")), [1, 2, 3, 4]);
            burst.extend_from_slice(frame.header());
            burst.extend_from_slice(&frame.payload);
        }
        far.write_all(&burst).await.unwrap();
        for n in 0..16 {
            let message = ws.recv().await.unwrap().unwrap();
            assert_eq!(message, Message::text(format!("message {n}")));
            ws.feed(message).await.unwrap();
        }
        assert_eq!(ws.get_ref().writes, 0, "nothing written while reading");
        let polled = std::future::poll_fn(|cx| Poll::Ready(ws.poll_recv(cx))).await;
        assert!(polled.is_pending());
        assert_eq!(ws.get_ref().writes, 1);
        assert_eq!(ws.buffered_amount(), 0);
        let mut replies = vec![0; 16 * (2 + "message 10".len()) - 10];
        far.read_exact(&mut replies).await.unwrap();
        assert!(replies.starts_with(b"\x81\x09message 0"));
        assert!(replies.ends_with(b"\x81\x0amessage 15"));
    }
}
