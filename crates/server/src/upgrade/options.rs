//! What the accepting side of a WebSocket chooses, whether per route
//! ([`Upgrade`](super::Upgrade)) or for every route
//! ([`WebSocketLayer`](super::WebSocketLayer)): one struct behind both
//! builders.

use super::OriginPolicy;
use crate::ws::WebSocketConfig;

/// The subprotocols spoken, the connections' settings, and the pages
/// allowed to open WebSockets.
#[derive(Debug, Clone, Default)]
pub(crate) struct AcceptOptions {
    /// Most preferred first; default: none.
    pub(crate) protocols: Vec<String>,
    /// Default: [`WebSocketConfig::default`].
    pub(crate) config: WebSocketConfig,
    /// Default: [`OriginPolicy::SameOrigin`].
    pub(crate) origins: OriginPolicy,
}

impl AcceptOptions {
    pub(crate) fn set_protocols<I, P>(&mut self, protocols: I)
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        self.protocols = protocols.into_iter().map(Into::into).collect();
    }
}
