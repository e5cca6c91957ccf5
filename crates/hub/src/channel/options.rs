//! Namespace options with Centrifugo v6's key names, plus pushwire's own
//! slow-consumer settings.

use std::time::Duration;

use serde::Deserialize;

use crate::config::{duration, ConfigError};

/// What happens when a subscriber's outgoing queue would pass its bound.
///
/// Key `slow_consumer_policy`: `"disconnect"` (default), `"drop_oldest"` or
/// `"latest_only"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlowConsumerPolicy {
    /// Close the connection with 3008 `slow`: the SDK reconnects and recovers
    /// from history.
    #[default]
    Disconnect,
    /// Drop the queued publications of the oldest publication's channel and
    /// send that subscriber unsubscribe 2500 `insufficient state`: the SDK
    /// resubscribes and recovers. Never a silent gap.
    DropOldest,
    /// Keep only the newest queued publication per channel (tickers). Gaps are
    /// the point here: the namespace opted in to skipping stale values.
    LatestOnly,
}

/// Options of a namespace (or of channels without one).
///
/// Keys as in Centrifugo v6's `channel.namespaces[*]`; unknown keys are ignored
/// so a Centrifugo config carries over. Durations are strings (`"300s"`,
/// `"5m"`, `"720h"`) or integers in milliseconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct NamespaceOptions {
    /// Maintain presence.
    pub presence: bool,
    /// Emit join/leave messages.
    pub join_leave: bool,
    /// Push join/leave to every subscriber, not only those that asked.
    pub force_push_join_leave: bool,
    /// Publications kept in history (with `history_ttl` > 0 turns history on).
    pub history_size: usize,
    /// How long history lives after the last publication.
    #[serde(with = "duration")]
    pub history_ttl: Duration,
    /// How long a stream's position (top offset, epoch) lives (default 720h).
    #[serde(with = "duration")]
    pub history_meta_ttl: Duration,
    /// Every subscription is recoverable.
    pub force_recovery: bool,
    /// Clients may ask for recovery.
    pub allow_recovery: bool,
    /// Every subscription is positioned.
    pub force_positioning: bool,
    /// Clients may ask for positioning.
    pub allow_positioning: bool,
    /// Authenticated clients may subscribe without a subscription token.
    pub allow_subscribe_for_client: bool,
    /// Anonymous clients may subscribe without a subscription token.
    pub allow_subscribe_for_anonymous: bool,
    /// Subscribers may publish.
    pub allow_publish_for_subscriber: bool,
    /// Any authenticated client may publish.
    pub allow_publish_for_client: bool,
    /// Anonymous clients may publish (with one of the two above).
    pub allow_publish_for_anonymous: bool,
    /// Subscribers may ask for presence.
    pub allow_presence_for_subscriber: bool,
    /// Any authenticated client may ask for presence.
    pub allow_presence_for_client: bool,
    /// Anonymous clients may ask for presence (with one of the two above).
    pub allow_presence_for_anonymous: bool,
    /// Subscribers may read history.
    pub allow_history_for_subscriber: bool,
    /// Any authenticated client may read history.
    pub allow_history_for_client: bool,
    /// Anonymous clients may read history (with one of the two above).
    pub allow_history_for_anonymous: bool,
    /// `#user` channels are honoured.
    pub allow_user_limited_channels: bool,
    /// Regex for the name after `ns:` — not supported yet: a config setting it
    /// is rejected.
    pub channel_regex: String,
    /// pushwire: a connection's outgoing queue bound in bytes for this
    /// namespace's publications (default 1 MiB).
    pub queue_max_size: usize,
    /// pushwire: what happens when that bound is passed.
    pub slow_consumer_policy: SlowConsumerPolicy,
    /// Ask `channel.proxy.subscribe` about subscriptions without a token
    /// (not for user-limited `#` channels).
    pub subscribe_proxy_enabled: bool,
    /// Ask `channel.proxy.publish` about client publications (instead of
    /// the `allow_publish_*` permissions).
    pub publish_proxy_enabled: bool,
    /// Ask `channel.proxy.sub_refresh` to extend subscriptions that the
    /// subscribe proxy gave an `expire_at`.
    pub sub_refresh_proxy_enabled: bool,
}

impl Default for NamespaceOptions {
    fn default() -> Self {
        NamespaceOptions {
            presence: false,
            join_leave: false,
            force_push_join_leave: false,
            history_size: 0,
            history_ttl: Duration::ZERO,
            history_meta_ttl: Duration::from_secs(720 * 3600),
            force_recovery: false,
            allow_recovery: false,
            force_positioning: false,
            allow_positioning: false,
            allow_subscribe_for_client: false,
            allow_subscribe_for_anonymous: false,
            allow_publish_for_subscriber: false,
            allow_publish_for_client: false,
            allow_publish_for_anonymous: false,
            allow_presence_for_subscriber: false,
            allow_presence_for_client: false,
            allow_presence_for_anonymous: false,
            allow_history_for_subscriber: false,
            allow_history_for_client: false,
            allow_history_for_anonymous: false,
            allow_user_limited_channels: false,
            channel_regex: String::new(),
            queue_max_size: 1 << 20,
            slow_consumer_policy: SlowConsumerPolicy::Disconnect,
            subscribe_proxy_enabled: false,
            publish_proxy_enabled: false,
            sub_refresh_proxy_enabled: false,
        }
    }
}

impl NamespaceOptions {
    /// Whether history is kept: both `history_size` and `history_ttl` > 0.
    pub fn history_enabled(&self) -> bool {
        self.history_size > 0 && !self.history_ttl.is_zero()
    }

    /// Checks the options; `at` is the key path for error messages.
    pub(crate) fn validate(&self, at: &str) -> Result<(), ConfigError> {
        let err = |key: &str, reason: &str| ConfigError::new(format!("{at}.{key}"), reason);
        if (self.history_size > 0) == self.history_ttl.is_zero() {
            return Err(err(
                "history_size",
                "history_size and history_ttl must both be set (> 0) to keep history",
            ));
        }
        if (self.force_recovery || self.allow_recovery) && !self.history_enabled() {
            return Err(err(
                "force_recovery",
                "recovery needs history_size and history_ttl",
            ));
        }
        if (self.force_positioning || self.allow_positioning) && !self.history_enabled() {
            return Err(err(
                "force_positioning",
                "positioning needs history_size and history_ttl",
            ));
        }
        if self.history_enabled() && self.history_meta_ttl < self.history_ttl {
            return Err(err(
                "history_meta_ttl",
                "must not be shorter than history_ttl",
            ));
        }
        if !self.channel_regex.is_empty() {
            return Err(err("channel_regex", "not supported by pushwire yet"));
        }
        if let Some(reason) = crate::outbox::bound_error(self.queue_max_size) {
            return Err(err("queue_max_size", &reason));
        }
        Ok(())
    }
}

/// A named namespace: `{"name": "chat", ...options}`.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct Namespace {
    /// Name: `^[-a-zA-Z0-9_]{2,}$`.
    pub name: String,
    /// Its options.
    #[serde(flatten)]
    pub options: NamespaceOptions,
}

impl Namespace {
    /// A namespace with the given options.
    pub fn new(name: impl Into<String>, options: NamespaceOptions) -> Self {
        Namespace {
            name: name.into(),
            options,
        }
    }
}
