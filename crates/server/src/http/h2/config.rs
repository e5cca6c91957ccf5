//! The tunables of the server's HTTP/2 connections, each with a
//! documented default.

use std::time::Duration;

use pushwire_proto::http2::connection::ConnectionConfig;

/// Settings of every HTTP/2 connection a [`Server`](crate::Server)
/// serves (RFC 9113). The defaults suit WebSocket and event-stream
/// traffic; [`Server::http2`](crate::Server::http2) sets them.
///
/// ```
/// use std::time::Duration;
/// use pushwire::server::Http2Config;
/// let config = Http2Config::default()
///     .max_concurrent_streams(100)
///     .keep_alive_interval(Some(Duration::from_secs(15)))
///     .idle_timeout(Some(Duration::from_secs(60)));
/// assert_eq!(config.stream_window, 1 << 20);
/// assert_eq!(config.body_read_timeout, Some(Duration::from_secs(30)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Http2Config {
    /// The most streams (requests, WebSockets, event streams) a client
    /// may open at once on one connection
    /// (`SETTINGS_MAX_CONCURRENT_STREAMS`); more are refused with
    /// `REFUSED_STREAM`. Default: 256.
    pub max_concurrent_streams: u32,
    /// The receive window each stream starts with
    /// (`SETTINGS_INITIAL_WINDOW_SIZE`): a client sends a message this
    /// large without waiting for a `WINDOW_UPDATE`, and a stream whose
    /// reader stalls holds this much at most. At most 2^31-1.
    /// Default: 1 MiB.
    pub stream_window: u32,
    /// The connection's receive window, shared by its streams: many
    /// streams keep messages in flight at once. From 65,535 to 2^31-1.
    /// Default: 4 MiB.
    pub connection_window: u32,
    /// The longest frame accepted (`SETTINGS_MAX_FRAME_SIZE`), from
    /// 16 KiB to 16 MiB - 1; longer frames end the connection with
    /// `FRAME_SIZE_ERROR`. Default: 64 KiB, so a client's 16 KiB
    /// WebSocket message arrives in one DATA frame.
    pub max_frame_size: u32,
    /// Bytes queued for the socket beyond which streams wait to send and
    /// the connection stops reading: a client that does not read cannot
    /// make the server buffer without bound. Default: 512 KiB.
    pub output_limit: usize,
    /// The most CONTINUATION frames one field block may take; more end
    /// the connection with `ENHANCE_YOUR_CALM`. Default: 32.
    pub max_continuations: usize,
    /// Streams a client may reset before their response is done, beyond
    /// the streams it let finish, before the connection ends with
    /// `ENHANCE_YOUR_CALM` (the "rapid reset" of CVE-2023-44487).
    /// Default: 256.
    pub reset_allowance: u64,
    /// Pings each connection at this interval; `None` sends no pings.
    /// Default: 30 s.
    pub keep_alive_interval: Option<Duration>,
    /// How long a keep-alive ping may go unanswered before the
    /// connection is dropped, after a GOAWAY (`NO_ERROR`) that says why.
    /// Default: 20 s.
    pub keep_alive_timeout: Duration,
    /// How long a connection may stay without streams (no request, no
    /// WebSocket, no event stream open) before a GOAWAY (`NO_ERROR`)
    /// closes it; answering PINGs does not keep it open. Checked a few
    /// times per period, so it closes within a quarter more. `None`
    /// keeps idle connections open. Default: 2 min.
    pub idle_timeout: Option<Duration>,
    /// How long a request body may take to deliver 1 KiB (or its end)
    /// while the service waits for it; then its stream is reset
    /// (`CANCEL`). A body that drips a few bytes at a time is timed out
    /// like one that stalls; a slow service is not (the clock runs only
    /// while the service waits), nor is a WebSocket's stream (RFC 8441),
    /// whose messages may be far apart. `None` waits forever.
    /// Default: 30 s, as HTTP/1.1's
    /// [`body_read_timeout`](crate::Server::body_read_timeout).
    pub body_read_timeout: Option<Duration>,
    /// How long the client may take to acknowledge the server's
    /// SETTINGS before the connection ends with GOAWAY
    /// (`SETTINGS_TIMEOUT`, RFC 9113 section 6.5.3). Default: 10 s.
    pub settings_timeout: Duration,
}

impl Default for Http2Config {
    fn default() -> Self {
        Http2Config {
            max_concurrent_streams: 256,
            stream_window: 1 << 20,
            connection_window: 4 << 20,
            max_frame_size: 64 << 10,
            output_limit: 512 << 10,
            max_continuations: 32,
            reset_allowance: 256,
            keep_alive_interval: Some(Duration::from_secs(30)),
            keep_alive_timeout: Duration::from_secs(20),
            idle_timeout: Some(Duration::from_secs(120)),
            body_read_timeout: Some(Duration::from_secs(30)),
            settings_timeout: Duration::from_secs(10),
        }
    }
}

/// The largest flow-control window (RFC 9113 section 6.9.1).
const MAX_WINDOW: u32 = (1 << 31) - 1;

impl Http2Config {
    /// Sets [`Http2Config::max_concurrent_streams`](#structfield.max_concurrent_streams).
    #[must_use]
    pub fn max_concurrent_streams(mut self, max_concurrent_streams: u32) -> Self {
        self.max_concurrent_streams = max_concurrent_streams;
        self
    }

    /// Sets [`Http2Config::stream_window`](#structfield.stream_window).
    #[must_use]
    pub fn stream_window(mut self, stream_window: u32) -> Self {
        self.stream_window = stream_window;
        self
    }

    /// Sets [`Http2Config::connection_window`](#structfield.connection_window).
    #[must_use]
    pub fn connection_window(mut self, connection_window: u32) -> Self {
        self.connection_window = connection_window;
        self
    }

    /// Sets [`Http2Config::max_frame_size`](#structfield.max_frame_size).
    #[must_use]
    pub fn max_frame_size(mut self, max_frame_size: u32) -> Self {
        self.max_frame_size = max_frame_size;
        self
    }

    /// Sets [`Http2Config::output_limit`](#structfield.output_limit).
    #[must_use]
    pub fn output_limit(mut self, output_limit: usize) -> Self {
        self.output_limit = output_limit;
        self
    }

    /// Sets [`Http2Config::max_continuations`](#structfield.max_continuations).
    #[must_use]
    pub fn max_continuations(mut self, max_continuations: usize) -> Self {
        self.max_continuations = max_continuations;
        self
    }

    /// Sets [`Http2Config::reset_allowance`](#structfield.reset_allowance).
    #[must_use]
    pub fn reset_allowance(mut self, reset_allowance: u64) -> Self {
        self.reset_allowance = reset_allowance;
        self
    }

    /// Sets [`Http2Config::keep_alive_interval`](#structfield.keep_alive_interval).
    #[must_use]
    pub fn keep_alive_interval(mut self, keep_alive_interval: Option<Duration>) -> Self {
        self.keep_alive_interval = keep_alive_interval;
        self
    }

    /// Sets [`Http2Config::keep_alive_timeout`](#structfield.keep_alive_timeout).
    #[must_use]
    pub fn keep_alive_timeout(mut self, keep_alive_timeout: Duration) -> Self {
        self.keep_alive_timeout = keep_alive_timeout;
        self
    }

    /// Sets [`Http2Config::idle_timeout`](#structfield.idle_timeout).
    #[must_use]
    pub fn idle_timeout(mut self, idle_timeout: Option<Duration>) -> Self {
        self.idle_timeout = idle_timeout;
        self
    }

    /// Sets [`Http2Config::body_read_timeout`](#structfield.body_read_timeout).
    #[must_use]
    pub fn body_read_timeout(mut self, body_read_timeout: Option<Duration>) -> Self {
        self.body_read_timeout = body_read_timeout;
        self
    }

    /// Sets [`Http2Config::settings_timeout`](#structfield.settings_timeout).
    #[must_use]
    pub fn settings_timeout(mut self, settings_timeout: Duration) -> Self {
        self.settings_timeout = settings_timeout;
        self
    }

    /// What a connection's state enforces, with `max_header_list_size`.
    pub(crate) fn connection_config(&self, max_header_list_size: u32) -> ConnectionConfig {
        ConnectionConfig {
            max_concurrent_streams: self.max_concurrent_streams,
            stream_window: self.stream_window,
            connection_window: self.connection_window,
            max_frame_size: self.max_frame_size,
            max_header_list_size,
            output_limit: self.output_limit,
            max_continuations: self.max_continuations,
            reset_allowance: self.reset_allowance,
        }
        .clamped()
    }

    /// The values brought within what RFC 9113 allows.
    pub(crate) fn clamped(mut self) -> Self {
        self.stream_window = self.stream_window.min(MAX_WINDOW);
        self.connection_window = self.connection_window.clamp(65_535, MAX_WINDOW);
        self.max_frame_size = self.max_frame_size.clamp(16 << 10, (16 << 20) - 1);
        self
    }
}
