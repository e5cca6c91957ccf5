//! What the engine counted: completed work and every kind of failure.
//! I/O errors never stop the generator; they are counted and reported.

use serde::Serialize;

/// Running totals of one [`super::Engine`].
#[derive(Debug, Default, Clone, Serialize)]
pub struct Counters {
    /// Echoed data messages received.
    pub replies: u64,
    /// Complete connect-upgrade-echo-close cycles.
    pub cycles: u64,
    /// Connections whose upgrade succeeded.
    pub upgrades: u64,
    /// TCP connects that failed.
    pub connect_errors: u64,
    /// Upgrades the server refused or answered wrongly.
    pub upgrade_errors: u64,
    /// Upgrades where permessage-deflate was offered and declined.
    pub deflate_declined: u64,
    /// Reads or writes that failed on an open connection.
    pub io_errors: u64,
    /// Server frames that broke the protocol.
    pub protocol_errors: u64,
    /// Connections the server closed (or reset) when it should not have.
    pub unexpected_closes: u64,
    /// The most recent failure, for the report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl Counters {
    /// All failures together.
    pub fn errors(&self) -> u64 {
        self.connect_errors
            + self.upgrade_errors
            + self.deflate_declined
            + self.io_errors
            + self.protocol_errors
            + self.unexpected_closes
    }

    /// Records the text of a failure.
    pub fn note(&mut self, message: impl Into<String>) {
        self.last_error = Some(message.into());
    }
}
