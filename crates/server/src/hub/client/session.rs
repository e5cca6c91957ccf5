//! The client's task: it owns the transport ([`Link`]: a WebSocket over
//! HTTP/1.1 or HTTP/2, or the SSE emulation — the same session on each),
//! connects, answers the hub's pings, matches replies to commands, hands
//! publications to their subscriptions, and on a lost connection
//! reconnects with backoff and recovers every subscription from its last
//! position.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{sleep_until, timeout, timeout_at, Instant};
use tokio_util::sync::CancellationToken;

use super::endpoint::Endpoint;
use super::subscription::{Publication, SubscriptionEvent};
use super::transport::{Closed, Link};
use super::{ClientError, ClientOptions, ConnectionState};

/// How long past the advertised ping interval the client waits for any
/// frame before it takes the connection for dead (centrifuge-js: 10 s).
const MAX_PING_DELAY: Duration = Duration::from_secs(10);

/// The disconnect code the client reports when the transport closed
/// without one (centrifuge-js: 2, "transport closed").
pub(super) const TRANSPORT_CLOSED: u32 = 2;

/// The disconnect code of [`Client::close`](super::Client::close).
pub(super) const CLIENT_CLOSED: u32 = 3000;

/// What the [`Client`](super::Client) and its subscriptions ask of the
/// task.
#[derive(Debug)]
pub(crate) enum Request {
    /// A command answered by one reply: publish, history, presence…
    Call {
        method: &'static str,
        params: Value,
        answer: oneshot::Sender<Result<Value, ClientError>>,
    },
    /// Subscribe, delivering to `events`; answered after the first
    /// subscribe reply.
    Subscribe {
        channel: String,
        events: mpsc::Sender<SubscriptionEvent>,
        answer: oneshot::Sender<Result<(), ClientError>>,
    },
    /// Unsubscribe (the subscription was dropped).
    Unsubscribe { channel: String },
}

/// Where a subscription is in its channel's stream.
#[derive(Debug, Clone)]
struct Position {
    offset: u64,
    epoch: String,
}

/// A subscription as the task keeps it, across connections.
#[derive(Debug)]
struct Sub {
    events: mpsc::Sender<SubscriptionEvent>,
    /// Known once a subscribe result said the channel is recoverable.
    position: Option<Position>,
    /// The caller of `subscribe`, until the first reply.
    answer: Option<oneshot::Sender<Result<(), ClientError>>>,
    /// Waiting to subscribe again after a temporary error.
    retry: bool,
}

/// A command waiting for its reply.
#[derive(Debug)]
enum Pending {
    Call(&'static str, oneshot::Sender<Result<Value, ClientError>>),
    Subscribe(String),
    Refresh,
    /// Nobody waits (unsubscribe).
    Ignore,
}

/// How a connection ended.
#[derive(Debug)]
enum End {
    /// The application closed the client.
    Closed,
    /// The connection was lost or closed by the hub.
    Lost {
        code: u32,
        reason: String,
        reconnect: bool,
    },
}

impl End {
    fn lost(code: u32, reason: impl Into<String>) -> End {
        End::Lost {
            code,
            reason: reason.into(),
            reconnect: reconnects(code),
        }
    }
}

impl From<Closed> for End {
    fn from(closed: Closed) -> End {
        End::lost(closed.code, closed.reason)
    }
}

/// Whether a disconnect code means "reconnect" (the centrifuge-js rule):
/// all but 3500–3999 and 4500–4999 (terminal by the protocol) and 1009
/// (a message over the size limit would only be sent again).
pub(super) fn reconnects(code: u32) -> bool {
    !((3500..4000).contains(&code) || (4500..5000).contains(&code) || code == 1009)
}

/// The task's state, across connections.
pub(super) struct Connection {
    pub(super) endpoint: Endpoint,
    pub(super) options: ClientOptions,
    pub(super) requests: mpsc::Receiver<Request>,
    pub(super) state: watch::Sender<ConnectionState>,
    pub(super) cancel: CancellationToken,
    subs: HashMap<String, Sub>,
    pending: HashMap<u32, Pending>,
    last_id: u32,
    token: Option<String>,
    /// Whether the client answers the hub's pings (`pong` in the connect
    /// result).
    pong: bool,
    resubscribe_at: Option<Instant>,
    refresh_at: Option<Instant>,
    /// The transport in use: an index in the options' transports.
    transport: usize,
    /// Whether a transport connected once (it is then kept).
    transport_chosen: bool,
}

impl Connection {
    pub(super) fn new(
        endpoint: Endpoint,
        options: ClientOptions,
        requests: mpsc::Receiver<Request>,
        state: watch::Sender<ConnectionState>,
        cancel: CancellationToken,
    ) -> Connection {
        Connection {
            endpoint,
            token: options.token.clone(),
            options,
            requests,
            state,
            cancel,
            subs: HashMap::new(),
            pending: HashMap::new(),
            last_id: 0,
            pong: false,
            resubscribe_at: None,
            refresh_at: None,
            transport: 0,
            transport_chosen: false,
        }
    }

    /// Connects, and reconnects until the client is closed or a
    /// disconnect code says not to; `ready` learns how the first attempt
    /// went (a first failure ends the task: a wrong URL or token should
    /// not be retried forever).
    pub(super) async fn run(mut self, ready: oneshot::Sender<Result<(), ClientError>>) {
        let mut ready = Some(ready);
        let mut attempt = 0u32;
        loop {
            self.state.send_replace(ConnectionState::Connecting);
            let end = match self.open().await {
                Ok((link, id)) => self.session(link, id, &mut ready, &mut attempt).await,
                Err(error) if self.next_transport() => {
                    tracing::debug!(%error, "hub client: trying the next transport");
                    continue;
                }
                Err(error) => match ready.take() {
                    Some(ready) => {
                        let end = End::lost(TRANSPORT_CLOSED, error.to_string());
                        let _ = ready.send(Err(error));
                        return self.finish(end).await;
                    }
                    None => End::lost(TRANSPORT_CLOSED, error.to_string()),
                },
            };
            self.fail_pending(&end);
            let End::Lost {
                code,
                reason,
                reconnect,
            } = &end
            else {
                return self.finish(end).await;
            };
            if let Some(ready) = ready.take() {
                let _ = ready.send(Err(ClientError::Disconnected {
                    code: *code,
                    reason: reason.clone(),
                }));
                return self.finish(end).await;
            }
            if !reconnect {
                return self.finish(end).await;
            }
            tracing::debug!(code, reason, "hub client: reconnecting");
            let delay = self.options.backoff.random_delay(attempt);
            attempt = attempt.saturating_add(1);
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.cancel.cancelled() => return self.finish(End::Closed).await,
            }
        }
    }

    /// While no transport connected yet, moves to the next one in the
    /// options' order; `false` once there is none (or one connected).
    fn next_transport(&mut self) -> bool {
        if self.transport_chosen || self.transport + 1 >= self.options.transports.len() {
            return false;
        }
        self.transport += 1;
        true
    }

    /// Opens the transport with the connect command; its id.
    async fn open(&mut self) -> Result<(Link, u32), ClientError> {
        if self.token.is_none() {
            if let Some(source) = &self.options.token_source {
                let token = timeout(self.options.timeout, source())
                    .await
                    .map_err(|_| ClientError::Timeout)?;
                self.token = Some(token.map_err(|why| {
                    ClientError::Protocol(format!("the token source failed: {why}"))
                })?);
            }
        }
        let id = self.next_id();
        let mut connect = json!({"name": self.options.name});
        if let Some(token) = &self.token {
            connect["token"] = token.clone().into();
        }
        let command = json!({"id": id, "connect": connect}).to_string();
        let transport = self.options.transports[self.transport];
        let open = Link::open(&self.endpoint, transport, &self.options, command);
        tokio::select! {
            link = timeout(self.options.timeout, open) => match link {
                Ok(link) => Ok((link?, id)),
                Err(_) => Err(ClientError::Timeout),
            },
            _ = self.cancel.cancelled() => Err(ClientError::Disconnected {
                code: CLIENT_CLOSED,
                reason: "client closed".into(),
            }),
        }
    }

    /// One connection, from the connect command to its end.
    async fn session(
        &mut self,
        mut link: Link,
        id: u32,
        ready: &mut Option<oneshot::Sender<Result<(), ClientError>>>,
        attempt: &mut u32,
    ) -> End {
        let connected = match self.handshake(&mut link, id).await {
            Ok(connected) => connected,
            Err(end) => {
                let _ = timeout(Duration::from_secs(1), link.close()).await;
                return end;
            }
        };
        if let Err(closed) = link.connected(&connected) {
            link.close().await;
            return closed.into();
        }
        self.transport_chosen = true;
        tracing::debug!(transport = link.name(), "hub client: connected");
        *attempt = 0;
        let client = connected["client"].as_str().unwrap_or_default().to_string();
        self.pong = connected["pong"].as_bool().unwrap_or(false);
        let ping = connected["ping"].as_u64().unwrap_or(0);
        let ping_window = (ping > 0).then(|| Duration::from_secs(ping) + MAX_PING_DELAY);
        self.schedule_refresh(&connected);
        self.state
            .send_replace(ConnectionState::Connected { client });
        if let Some(ready) = ready.take() {
            let _ = ready.send(Ok(()));
        }
        let end = match self.resubscribe_all(&mut link).await {
            Ok(()) => self.serve(&mut link, ping_window).await,
            Err(closed) => closed.into(),
        };
        let _ = timeout(Duration::from_secs(1), link.close()).await;
        end
    }

    /// Waits for the result of the connect command `id`.
    async fn handshake(&mut self, link: &mut Link, id: u32) -> Result<Value, End> {
        let deadline = Instant::now() + self.options.timeout;
        loop {
            let text = match timeout_at(deadline, link.recv()).await {
                Err(_) => return Err(End::lost(TRANSPORT_CLOSED, "no connect reply in time")),
                Ok(Err(closed)) => return Err(closed.into()),
                Ok(Ok(text)) => text,
            };
            for line in text.lines() {
                let reply: Value = serde_json::from_str(line)
                    .map_err(|_| End::lost(TRANSPORT_CLOSED, "a frame that is not JSON"))?;
                if let Some(disconnect) = reply["push"].get("disconnect") {
                    return Err(disconnect_push(disconnect));
                }
                if reply["id"].as_u64() != Some(u64::from(id)) {
                    continue;
                }
                if let Some(error) = reply.get("error") {
                    return Err(self.connect_error(error));
                }
                return Ok(reply["connect"].clone());
            }
        }
    }

    /// A connect error: temporary ones and an expired token (when there
    /// is a token source to ask for another) are tried again.
    fn connect_error(&mut self, error: &Value) -> End {
        let ClientError::Reply {
            code,
            message,
            temporary,
        } = ClientError::from_reply(error)
        else {
            unreachable!("from_reply makes a Reply")
        };
        let expired = code == 109 && self.options.token_source.is_some();
        if expired {
            self.token = None;
        }
        End::Lost {
            code,
            reason: message,
            reconnect: temporary || code < 100 || expired,
        }
    }

    fn schedule_refresh(&mut self, result: &Value) {
        self.refresh_at = None;
        if self.options.token_source.is_none() || result["expires"].as_bool() != Some(true) {
            return;
        }
        // At least a second apart, whatever `ttl` says (it is omitted
        // when zero).
        let ttl = result["ttl"].as_u64().unwrap_or(0).max(1);
        self.refresh_at = Some(Instant::now() + Duration::from_secs(ttl));
    }

    /// Subscribes every subscription again, from its last position.
    async fn resubscribe_all(&mut self, link: &mut Link) -> Result<(), Closed> {
        let channels: Vec<String> = self.subs.keys().cloned().collect();
        for channel in channels {
            let command = self.subscribe_command(&channel);
            link.feed(command).await?;
        }
        link.flush().await
    }

    /// The connection's loop: frames from the hub, requests from the
    /// application, and the timers.
    async fn serve(&mut self, link: &mut Link, ping_window: Option<Duration>) -> End {
        let mut ping_deadline = ping_window.map(|w| Instant::now() + w);
        loop {
            let never = Instant::now() + Duration::from_secs(24 * 3600);
            tokio::select! {
                message = link.recv() => {
                    ping_deadline = ping_window.map(|w| Instant::now() + w);
                    let text = match message {
                        Err(closed) => return closed.into(),
                        Ok(text) => text,
                    };
                    for line in text.lines() {
                        if let Some(end) = self.on_line(link, line).await {
                            return end;
                        }
                    }
                    if let Err(closed) = link.flush().await {
                        return closed.into();
                    }
                }
                request = self.requests.recv() => {
                    let Some(request) = request else { return End::Closed };
                    if let Err(closed) = self.on_request(link, request).await {
                        return closed.into();
                    }
                }
                _ = sleep_until(ping_deadline.unwrap_or(never)) => {
                    return End::lost(TRANSPORT_CLOSED, "no ping from the hub");
                }
                _ = sleep_until(self.resubscribe_at.unwrap_or(never)) => {
                    self.resubscribe_at = None;
                    if let Err(closed) = self.retry_subscriptions(link).await {
                        return closed.into();
                    }
                }
                _ = sleep_until(self.refresh_at.unwrap_or(never)) => {
                    if let Err(end) = self.refresh(link).await {
                        return end;
                    }
                }
                _ = self.cancel.cancelled() => return End::Closed,
            }
        }
    }

    async fn on_line(&mut self, link: &mut Link, line: &str) -> Option<End> {
        let Ok(frame) = serde_json::from_str::<Value>(line) else {
            return Some(End::lost(TRANSPORT_CLOSED, "a frame that is not JSON"));
        };
        if let Some(id) = frame["id"].as_u64().filter(|&id| id > 0) {
            return self.on_reply(link, id as u32, &frame).await;
        }
        if let Some(push) = frame.get("push") {
            return self.on_push(link, push).await;
        }
        if frame.as_object().is_some_and(|o| o.is_empty()) && self.pong {
            // The hub's ping: answer with an empty command.
            if let Err(closed) = link.feed("{}".to_string()).await {
                return Some(closed.into());
            }
        }
        None
    }

    async fn on_reply(&mut self, link: &mut Link, id: u32, reply: &Value) -> Option<End> {
        match self.pending.remove(&id)? {
            Pending::Call(method, answer) => {
                let result = match reply.get("error") {
                    Some(error) => Err(ClientError::from_reply(error)),
                    None => Ok(reply[method].clone()),
                };
                let _ = answer.send(result);
            }
            Pending::Subscribe(channel) => self.on_subscribed(link, channel, reply).await,
            Pending::Refresh => match reply.get("error") {
                Some(error) => {
                    let ClientError::Reply { code, message, .. } = ClientError::from_reply(error)
                    else {
                        unreachable!("from_reply makes a Reply")
                    };
                    self.token = None;
                    return Some(End::Lost {
                        code,
                        reason: message,
                        reconnect: true,
                    });
                }
                None => self.schedule_refresh(&reply["refresh"]),
            },
            Pending::Ignore => {}
        }
        None
    }

    async fn on_subscribed(&mut self, link: &mut Link, channel: String, reply: &Value) {
        let Some(sub) = self.subs.get_mut(&channel) else {
            return;
        };
        if let Some(error) = reply.get("error") {
            let error = ClientError::from_reply(error);
            let ClientError::Reply {
                code,
                ref message,
                temporary,
            } = error
            else {
                return;
            };
            if temporary || code < 100 {
                sub.retry = true;
                let at = Instant::now() + self.options.backoff.random_delay(2);
                self.resubscribe_at = Some(self.resubscribe_at.map_or(at, |t| t.min(at)));
                return;
            }
            let message = message.clone();
            let Some(mut sub) = self.subs.remove(&channel) else {
                return;
            };
            match sub.answer.take() {
                Some(answer) => {
                    let _ = answer.send(Err(error));
                }
                None => {
                    let _ = sub
                        .events
                        .send(SubscriptionEvent::Unsubscribed {
                            code,
                            reason: message,
                        })
                        .await;
                }
            }
            return;
        }
        let result = &reply["subscribe"];
        let epoch = result["epoch"].as_str();
        if result["recoverable"].as_bool() == Some(true) || epoch.is_some() {
            sub.position = Some(Position {
                offset: result["offset"].as_u64().unwrap_or(0),
                epoch: epoch.unwrap_or_default().to_string(),
            });
        }
        if let Some(answer) = sub.answer.take() {
            let _ = answer.send(Ok(()));
        }
        let subscribed = SubscriptionEvent::Subscribed {
            was_recovering: result["was_recovering"].as_bool().unwrap_or(false),
            recovered: result["recovered"].as_bool().unwrap_or(false),
        };
        self.deliver(link, &channel, subscribed).await;
        let publications = result["publications"].as_array().cloned();
        for publication in publications.into_iter().flatten() {
            self.publication(link, &channel, publication).await;
        }
    }

    async fn on_push(&mut self, link: &mut Link, push: &Value) -> Option<End> {
        let channel = push["channel"].as_str().unwrap_or_default();
        if let Some(publication) = push.get("pub") {
            self.publication(link, channel, publication.clone()).await;
        } else if let Some(unsubscribe) = push.get("unsubscribe") {
            let code = unsubscribe["code"].as_u64().unwrap_or(0) as u32;
            if code >= 2500 {
                // The hub asks for a new subscribe (insufficient state,
                // expired): recover from the last position.
                if self.subs.contains_key(channel) {
                    let command = self.subscribe_command(channel);
                    if let Err(closed) = link.feed(command).await {
                        return Some(closed.into());
                    }
                }
            } else if let Some(sub) = self.subs.remove(channel) {
                let reason = unsubscribe["reason"].as_str().unwrap_or_default();
                let _ = sub
                    .events
                    .send(SubscriptionEvent::Unsubscribed {
                        code,
                        reason: reason.to_string(),
                    })
                    .await;
            }
        } else if let Some(join) = push.get("join") {
            if let Ok(info) = serde_json::from_value(join["info"].clone()) {
                self.deliver(link, channel, SubscriptionEvent::Join(info))
                    .await;
            }
        } else if let Some(leave) = push.get("leave") {
            if let Ok(info) = serde_json::from_value(leave["info"].clone()) {
                self.deliver(link, channel, SubscriptionEvent::Leave(info))
                    .await;
            }
        } else if let Some(disconnect) = push.get("disconnect") {
            return Some(disconnect_push(disconnect));
        }
        None
    }

    /// Hands a publication to its subscription once: one at or below the
    /// subscription's position was delivered already (a recovered one
    /// that also came live).
    async fn publication(&mut self, link: &mut Link, channel: &str, publication: Value) {
        let Ok(mut publication) = serde_json::from_value::<Publication>(publication) else {
            tracing::debug!(channel, "hub client: a publication it cannot read");
            return;
        };
        let Some(sub) = self.subs.get_mut(channel) else {
            return;
        };
        if let (Some(offset), Some(position)) = (publication.offset, sub.position.as_mut()) {
            if offset <= position.offset {
                return;
            }
            position.offset = offset;
        }
        publication.channel = channel.to_string();
        self.deliver(link, channel, SubscriptionEvent::Publication(publication))
            .await;
    }

    /// Sends `event` to the subscription of `channel`; one whose
    /// [`Subscription`](super::Subscription) was dropped is unsubscribed.
    async fn deliver(&mut self, link: &mut Link, channel: &str, event: SubscriptionEvent) {
        let Some(events) = self.subs.get(channel).map(|s| s.events.clone()) else {
            return;
        };
        if events.send(event).await.is_err() {
            self.subs.remove(channel);
            let command = self.unsubscribe_command(channel);
            // A write error shows again on the next read.
            let _ = link.feed(command).await;
        }
    }

    async fn on_request(&mut self, link: &mut Link, request: Request) -> Result<(), Closed> {
        match request {
            Request::Call {
                method,
                params,
                answer,
            } => {
                let id = self.next_id();
                self.pending.insert(id, Pending::Call(method, answer));
                let command = json!({"id": id, method: params}).to_string();
                link.send(command).await
            }
            Request::Subscribe {
                channel,
                events,
                answer,
            } => {
                match self.subs.get(&channel) {
                    Some(sub) if !sub.events.is_closed() => {
                        let _ = answer.send(Err(ClientError::Reply {
                            code: 105,
                            message: "already subscribed".into(),
                            temporary: false,
                        }));
                        return Ok(());
                    }
                    Some(_dropped) => {
                        // Its unsubscribe request did not fit in the queue.
                        let command = self.unsubscribe_command(&channel);
                        link.feed(command).await?;
                    }
                    None => {}
                }
                let sub = Sub {
                    events,
                    position: None,
                    answer: Some(answer),
                    retry: false,
                };
                self.subs.insert(channel.clone(), sub);
                let command = self.subscribe_command(&channel);
                link.send(command).await
            }
            Request::Unsubscribe { channel } => {
                let dropped = self
                    .subs
                    .get(&channel)
                    .is_some_and(|s| s.events.is_closed());
                if !dropped {
                    return Ok(());
                }
                self.subs.remove(&channel);
                let command = self.unsubscribe_command(&channel);
                link.send(command).await
            }
        }
    }

    async fn retry_subscriptions(&mut self, link: &mut Link) -> Result<(), Closed> {
        let channels: Vec<String> = self
            .subs
            .iter_mut()
            .filter_map(|(channel, sub)| std::mem::take(&mut sub.retry).then(|| channel.clone()))
            .collect();
        for channel in channels {
            let command = self.subscribe_command(&channel);
            link.feed(command).await?;
        }
        link.flush().await
    }

    async fn refresh(&mut self, link: &mut Link) -> Result<(), End> {
        self.refresh_at = None;
        let Some(source) = self.options.token_source.clone() else {
            return Ok(());
        };
        let token = match timeout(self.options.timeout, source()).await {
            Ok(Ok(token)) => token,
            Ok(Err(why)) => return Err(End::lost(TRANSPORT_CLOSED, why)),
            Err(_) => return Err(End::lost(TRANSPORT_CLOSED, "the token source timed out")),
        };
        self.token = Some(token.clone());
        let id = self.next_id();
        self.pending.insert(id, Pending::Refresh);
        let command = json!({"id": id, "refresh": {"token": token}}).to_string();
        link.send(command).await.map_err(End::from)
    }

    /// A subscribe command for `channel`, recovering from its position
    /// when it has one.
    fn subscribe_command(&mut self, channel: &str) -> String {
        let id = self.next_id();
        self.pending
            .insert(id, Pending::Subscribe(channel.to_string()));
        let mut subscribe = json!({"channel": channel});
        if let Some(position) = self.subs.get(channel).and_then(|s| s.position.as_ref()) {
            subscribe["recover"] = true.into();
            subscribe["offset"] = position.offset.into();
            subscribe["epoch"] = position.epoch.clone().into();
        }
        json!({"id": id, "subscribe": subscribe}).to_string()
    }

    fn unsubscribe_command(&mut self, channel: &str) -> String {
        let id = self.next_id();
        self.pending.insert(id, Pending::Ignore);
        json!({"id": id, "unsubscribe": {"channel": channel}}).to_string()
    }

    fn next_id(&mut self) -> u32 {
        self.last_id = self.last_id.checked_add(1).unwrap_or(1);
        self.last_id
    }

    /// Fails the calls waiting for a reply on the connection that ended;
    /// subscriptions wait for the next one.
    fn fail_pending(&mut self, end: &End) {
        let (code, reason) = match end {
            End::Closed => (CLIENT_CLOSED, "client closed"),
            End::Lost { code, reason, .. } => (*code, reason.as_str()),
        };
        for (_, pending) in self.pending.drain() {
            if let Pending::Call(_, answer) = pending {
                let _ = answer.send(Err(ClientError::Disconnected {
                    code,
                    reason: reason.to_string(),
                }));
            }
        }
        self.resubscribe_at = None;
        self.refresh_at = None;
    }

    /// The client is done: every subscription learns it.
    async fn finish(mut self, end: End) {
        let (code, reason) = match end {
            End::Closed => (CLIENT_CLOSED, "client closed".to_string()),
            End::Lost { code, reason, .. } => (code, reason),
        };
        self.fail_pending(&End::Closed);
        for (_, mut sub) in self.subs.drain() {
            let error = ClientError::Disconnected {
                code,
                reason: reason.clone(),
            };
            match sub.answer.take() {
                Some(answer) => {
                    let _ = answer.send(Err(error));
                }
                None => {
                    let _ = sub.events.try_send(SubscriptionEvent::Unsubscribed {
                        code,
                        reason: reason.clone(),
                    });
                }
            }
        }
        self.state
            .send_replace(ConnectionState::Disconnected { code, reason });
    }
}

fn disconnect_push(disconnect: &Value) -> End {
    let code = disconnect["code"].as_u64().unwrap_or(0) as u32;
    let reason = disconnect["reason"].as_str().unwrap_or_default();
    End::lost(code, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disconnect_codes_that_mean_reconnect() {
        for code in [2, 1000, 1006, 3001, 3008, 3012, 3499, 4000, 4499, 5000] {
            assert!(reconnects(code), "{code}");
        }
        for code in [1009, 3500, 3501, 3999, 4500, 4999] {
            assert!(!reconnects(code), "{code}");
        }
    }
}
