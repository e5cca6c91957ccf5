//! Server API request bodies (Centrifugo v5/v6 shapes, what `cent` 5.x sends).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::protocol::{RawJson, StreamPositionRequest};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PublishReq {
    pub channel: String,
    pub data: Option<RawJson>,
    pub skip_history: bool,
    pub tags: Option<BTreeMap<String, String>>,
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct BroadcastReq {
    pub channels: Vec<String>,
    pub data: Option<RawJson>,
    pub skip_history: bool,
    pub tags: Option<BTreeMap<String, String>>,
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(crate) struct SubscribeReq {
    pub user: String,
    pub channel: String,
    pub info: Option<RawJson>,
    pub client: String,
    pub session: String,
    pub data: Option<RawJson>,
    pub recover_since: Option<StreamPositionRequest>,
    pub expire_at: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct UnsubscribeReq {
    pub user: String,
    pub channel: String,
    pub client: String,
    pub session: String,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct DisconnectObj {
    pub code: u32,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct DisconnectReq {
    pub user: String,
    pub client: String,
    pub session: String,
    pub whitelist: Vec<String>,
    pub disconnect: Option<DisconnectObj>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RefreshReq {
    pub user: String,
    pub client: String,
    pub session: String,
    pub expired: bool,
    pub expire_at: Option<u64>,
    pub info: Option<RawJson>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ChannelReq {
    pub channel: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ChannelsReq {
    pub pattern: String,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct BatchReq {
    #[serde(default)]
    pub commands: Vec<BTreeMap<String, RawJson>>,
    /// Run the commands at once rather than one after another (they still
    /// answer in order).
    #[serde(default)]
    pub parallel: bool,
}
