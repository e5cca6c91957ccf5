//! A channel subscription as the application sees it: a stream of
//! events, publications among them.

use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};

use serde::Deserialize;
use tokio::sync::mpsc;

use super::session::Request;
use super::ClientInfo;

/// A publication in a channel.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Publication {
    /// The channel (filled by the client; pushes carry it beside the
    /// publication).
    #[serde(default)]
    pub channel: String,
    /// Its offset in the channel's history; absent for channels without
    /// history.
    #[serde(default)]
    pub offset: Option<u64>,
    /// The payload (JSON).
    #[serde(default)]
    pub data: serde_json::Value,
    /// The publisher, for publications made by a client.
    #[serde(default)]
    pub info: Option<serde_json::Value>,
    /// Tags given by the publisher.
    #[serde(default)]
    pub tags: HashMap<String, String>,
}

/// What happens to a subscription, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum SubscriptionEvent {
    /// The hub accepted the subscription: first after
    /// [`Client::subscribe`](super::Client::subscribe), then after each
    /// reconnect (or server-asked resubscribe).
    Subscribed {
        /// The client asked to recover from its last position.
        was_recovering: bool,
        /// Every publication missed meanwhile follows, in order. When
        /// `was_recovering` and not `recovered`, some are lost (the
        /// history is shorter than the gap, or the stream was reset):
        /// the application should reload its state.
        recovered: bool,
    },
    /// A publication.
    Publication(Publication),
    /// A connection joined the channel (channels with `join_leave`).
    Join(ClientInfo),
    /// A connection left the channel.
    Leave(ClientInfo),
    /// The subscription ended for good (`code` as in the hub protocol:
    /// 2000 unsubscribed by the server; a subscribe error's code), or the
    /// connection closed for good (its disconnect code). Nothing follows.
    Unsubscribed {
        /// Why, as a code.
        code: u32,
        /// Why, in words.
        reason: String,
    },
}

/// A subscription to one channel: its events come from
/// [`Subscription::next`], or from it as a `Stream`. Dropping it
/// unsubscribes.
///
/// Events wait for the application in a bounded queue; when the
/// application does not keep up, the client stops reading the connection
/// (and the hub applies its slow-consumer policy, after which the client
/// reconnects and recovers).
#[derive(Debug)]
pub struct Subscription {
    channel: String,
    events: mpsc::Receiver<SubscriptionEvent>,
    requests: mpsc::Sender<Request>,
}

impl Subscription {
    pub(super) fn new(
        channel: String,
        events: mpsc::Receiver<SubscriptionEvent>,
        requests: mpsc::Sender<Request>,
    ) -> Subscription {
        Subscription {
            channel,
            events,
            requests,
        }
    }

    /// The channel.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// The next event; `None` after [`SubscriptionEvent::Unsubscribed`]
    /// or once the client is gone.
    pub async fn next(&mut self) -> Option<SubscriptionEvent> {
        self.events.recv().await
    }
}

impl futures_core::Stream for Subscription {
    type Item = SubscriptionEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().events.poll_recv(cx)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // Best effort: if the queue is full, the client notices the
        // dropped receiver on its next event for this channel.
        let _ = self.requests.try_send(Request::Unsubscribe {
            channel: std::mem::take(&mut self.channel),
        });
    }
}
