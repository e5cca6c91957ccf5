//! Centrifuge's client protocol v2 in JSON: commands in, replies and pushes out,
//! and the protocol's codes.

mod codes;
mod command;
pub(crate) mod json;
pub(crate) mod reply;

pub use codes::{Disconnect, ErrorCode, UnsubscribeCode};
pub use command::{
    split_frame, ChannelRequest, Command, ConnectRequest, DecodeError, HistoryRequest, Method,
    PublishRequest, RawJson, RefreshRequest, RpcRequest, SendRequest, StreamPositionRequest,
    SubRefreshRequest, SubscribePosition, SubscribeRequest,
};
pub use reply::unwrap_push;
