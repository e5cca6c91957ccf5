//! The harness's error type: every failure carries a sentence a person can act on.

use std::fmt;

/// Something that stopped a measurement, a peer or the whole run.
#[derive(Debug)]
pub enum BenchError {
    /// An I/O operation failed; `what` says which.
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A server did not behave as a WebSocket echo server must.
    Peer(String),
    /// The command line or the environment is unusable.
    Setup(String),
}

impl BenchError {
    /// Wraps an I/O error with what was being done.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        BenchError::Io {
            what: what.into(),
            source,
        }
    }
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchError::Io { what, source } => write!(f, "{what}: {source}"),
            BenchError::Peer(message) | BenchError::Setup(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for BenchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BenchError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
