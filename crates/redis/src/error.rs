//! The engine's error: temporary (Redis unreachable, slow) or not.

use std::fmt;

use pushwire_hub::protocol::ErrorCode;

/// What went wrong, broadly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Redis did not answer within the command timeout.
    Timeout,
    /// Redis could not be reached (connection refused, reset, closed).
    Unavailable,
    /// A history `since` names another epoch (client protocol error 112).
    UnrecoverablePosition,
    /// The configuration is unusable.
    Config,
    /// Redis answered with an error or with something unexpected.
    Redis,
}

/// An engine error. Temporary errors ([`EngineError::is_temporary`]) go away
/// when Redis is back; the hub answers them with code 100, `temporary: true`.
#[derive(Debug, Clone)]
pub struct EngineError {
    kind: ErrorKind,
    message: String,
}

impl EngineError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        EngineError {
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn timeout(what: &str) -> Self {
        EngineError::new(ErrorKind::Timeout, format!("redis: {what}: timed out"))
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Self {
        EngineError::new(ErrorKind::Redis, message)
    }

    /// The kind of error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether retrying later may succeed (timeouts, Redis unreachable).
    pub fn is_temporary(&self) -> bool {
        matches!(self.kind, ErrorKind::Timeout | ErrorKind::Unavailable)
    }

    /// The client protocol error to answer with: 112 for an unrecoverable
    /// position, otherwise 100 (`temporary` as [`Self::is_temporary`]).
    ///
    /// ```
    /// use pushwire_hub::protocol::ErrorCode;
    /// # fn f(e: pushwire_redis::EngineError) {
    /// let code: ErrorCode = e.error_code();
    /// # }
    /// ```
    pub fn error_code(&self) -> ErrorCode {
        match self.kind {
            ErrorKind::UnrecoverablePosition => ErrorCode::UNRECOVERABLE_POSITION,
            _ => ErrorCode {
                temporary: self.is_temporary(),
                ..ErrorCode::INTERNAL
            },
        }
    }
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EngineError {}

impl From<redis::RedisError> for EngineError {
    fn from(e: redis::RedisError) -> Self {
        let kind = if e.is_timeout() {
            ErrorKind::Timeout
        } else if e.is_io_error()
            || e.is_connection_refusal()
            || e.is_connection_dropped()
            || e.is_unrecoverable_error()
            || matches!(
                e.kind(),
                redis::ErrorKind::Server(redis::ServerErrorKind::TryAgain)
                    | redis::ErrorKind::Server(redis::ServerErrorKind::ClusterDown)
                    | redis::ErrorKind::Server(redis::ServerErrorKind::MasterDown)
                    | redis::ErrorKind::Server(redis::ServerErrorKind::BusyLoading)
            )
        {
            ErrorKind::Unavailable
        } else {
            ErrorKind::Redis
        };
        EngineError::new(kind, format!("redis: {e}"))
    }
}
