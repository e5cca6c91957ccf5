//! What can go wrong for a hub client.

use std::fmt;

/// An error of the hub client or of the server API client.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// The hub answered the command with an error (`code` as in the hub
    /// protocol: 102 unknown channel, 103 permission denied, 109 token
    /// expired…).
    Reply {
        /// The error code.
        code: u32,
        /// The hub's message.
        message: String,
        /// Whether trying again later may succeed.
        temporary: bool,
    },
    /// The connection closed for good (a code that means "do not
    /// reconnect", or [`Client::close`](super::Client::close)), or closed
    /// while the command waited for its reply.
    Disconnected {
        /// The disconnect code (3500 invalid token, 3501 bad request…;
        /// below 3000 a transport closure).
        code: u32,
        /// Why.
        reason: String,
    },
    /// No reply within the client's timeout.
    Timeout,
    /// The connection could not be opened.
    Transport(crate::Error),
    /// The URL is not one the client can use.
    Url(String),
    /// The server API refused the key (HTTP 401).
    Unauthorized,
    /// The server API answered with another HTTP status.
    Http {
        /// The status code.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The peer sent something that is not the protocol.
    Protocol(String),
}

impl ClientError {
    pub(crate) fn from_reply(error: &serde_json::Value) -> ClientError {
        ClientError::Reply {
            code: error["code"].as_u64().unwrap_or(0) as u32,
            message: error["message"].as_str().unwrap_or_default().to_string(),
            temporary: error["temporary"].as_bool().unwrap_or(false),
        }
    }

    /// The hub's error code, for [`ClientError::Reply`].
    pub fn code(&self) -> Option<u32> {
        match self {
            ClientError::Reply { code, .. } => Some(*code),
            _ => None,
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Reply { code, message, .. } => {
                write!(f, "the hub answered error {code}: {message}")
            }
            ClientError::Disconnected { code, reason } => {
                write!(f, "disconnected ({code} {reason})")
            }
            ClientError::Timeout => f.write_str("no reply in time"),
            ClientError::Transport(e) => write!(f, "cannot connect: {e}"),
            ClientError::Url(why) => write!(f, "bad URL: {why}"),
            ClientError::Unauthorized => {
                f.write_str("the server API refused the key (HTTP 401): check --api-key or PUSHWIRE_HTTP_API_KEY")
            }
            ClientError::Http { status, body } => {
                write!(f, "the server API answered HTTP {status}: {body}")
            }
            ClientError::Protocol(why) => write!(f, "protocol error: {why}"),
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Transport(e) => Some(e),
            _ => None,
        }
    }
}

impl From<crate::Error> for ClientError {
    fn from(e: crate::Error) -> Self {
        ClientError::Transport(e)
    }
}

impl From<std::io::Error> for ClientError {
    fn from(e: std::io::Error) -> Self {
        ClientError::Transport(e.into())
    }
}
