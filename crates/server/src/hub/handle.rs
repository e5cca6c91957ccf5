//! The transports' way to the hub's driver task, and the settings they
//! share: the server API's key, the origin policy, the WebSocket config.

use std::sync::Arc;

use bytes::Bytes;
use http::Request;
use pushwire_hub::api::ApiResponse;
use pushwire_hub::{ConnId, Transport};
use tokio::sync::{mpsc, oneshot};

use super::driver::Command;
use super::metrics::Metrics;
use super::outlet::Outlet;
use super::proxy::{ConnMeta, HeaderCapture};
use super::sockets;
use super::{api, Config};
use crate::upgrade::OriginPolicy;
use crate::ws::WebSocketConfig;

/// What the transports need besides the driver.
pub(crate) struct Settings {
    api_key: String,
    insecure_api: bool,
    pub(super) origins: OriginPolicy,
    pub(super) websocket: WebSocketConfig,
    /// The client headers the backend proxy forwards.
    pub(super) proxy_headers: HeaderCapture,
}

impl Settings {
    pub(super) fn new(config: &Config, websocket: WebSocketConfig) -> Self {
        let allowed = &config.hub.client.allowed_origins;
        let origins = if allowed.iter().any(|origin| origin == "*") {
            OriginPolicy::Any
        } else {
            OriginPolicy::allow(allowed.iter().cloned())
        };
        let limits = websocket
            .limits
            .max_message_size(config.websocket.message_size_limit)
            .max_frame_size(config.websocket.message_size_limit);
        // What the driver takes from a connection's outbox waits in the
        // WebSocket's buffer until written: no more than its write
        // budget, so the backlog of a slow client stays in the hub, under
        // its namespace's policy.
        let max_write_buffer = websocket.max_write_buffer.min(sockets::WRITE_BUDGET);
        Settings {
            api_key: config.http_api.key.clone(),
            insecure_api: config.http_api.insecure,
            proxy_headers: HeaderCapture::new(&config.hub),
            origins,
            // The hub pings in its own protocol (`{}`, answered within
            // `client.pong_timeout`): WebSocket pings would double the
            // traffic and give each idle connection a timer of its own.
            websocket: websocket
                .limits(limits)
                .max_write_buffer(max_write_buffer)
                .ping_interval(None),
        }
    }

    /// Whether the request may call the server API.
    pub(super) fn api_key_matches<B>(&self, req: &Request<B>) -> bool {
        if self.insecure_api {
            return true;
        }
        !self.api_key.is_empty()
            && api::request_key(req).is_some_and(|key| constant_time_eq(key, &self.api_key))
    }
}

/// Compares without stopping at the first difference.
fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0, |d, (x, y)| d | (x ^ y)) == 0
}

/// The transports' way to the driver.
#[derive(Clone)]
pub(crate) struct HubHandle {
    pub(super) commands: mpsc::Sender<Command>,
    pub(super) settings: Arc<Settings>,
    pub(super) metrics: Arc<Metrics>,
}

impl HubHandle {
    pub(super) fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Sends, waiting while the driver's queue is full. The wait is
    /// boxed: it is rare, and a connection task's future stays small.
    pub(super) async fn send(&self, command: Command) -> bool {
        match self.commands.try_send(command) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(command)) => {
                Box::pin(self.commands.send(command)).await.is_ok()
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Sends from where nothing can wait (a drop, a poll).
    pub(super) fn send_soon(&self, command: Command) {
        if let Err(mpsc::error::TrySendError::Full(command)) = self.commands.try_send(command) {
            let commands = self.commands.clone();
            tokio::spawn(async move {
                let _ = commands.send(command).await;
            });
        }
    }

    /// Opens a connection: its handle and its outlet. `meta` names the
    /// transport and carries the headers the backend proxy forwards.
    pub(super) async fn open(
        &self,
        transport: Transport,
        meta: ConnMeta,
    ) -> Option<(ConnId, Arc<Outlet>)> {
        let outlet = Arc::new(Outlet::default());
        let (opened, conn) = oneshot::channel();
        let command = Command::Open {
            transport,
            meta,
            outlet: outlet.clone(),
            opened,
        };
        if !self.send(command).await {
            return None;
        }
        Some((conn.await.ok()?, outlet))
    }

    pub(super) async fn frame(&self, conn: ConnId, frame: Bytes) {
        self.send(Command::Frame { conn, frame }).await;
    }

    /// Feeds commands posted to `/emulation` to the session's connection.
    pub(super) async fn session_frame(&self, session: String, node: String, frame: Bytes) {
        self.send(Command::SessionFrame {
            session,
            node,
            frame,
        })
        .await;
    }

    /// Sends a long-poll request to the node holding its session; its
    /// answer, or `None` when none came within `wait`.
    pub(super) async fn forward_poll(
        &self,
        node: &str,
        request: Bytes,
        wait: std::time::Duration,
    ) -> Option<Bytes> {
        let (answer, answered) = oneshot::channel();
        let command = Command::ForwardPoll {
            node: node.to_owned(),
            request,
            answer,
        };
        if !self.send(command).await {
            return None;
        }
        tokio::time::timeout(wait, answered).await.ok()?.ok()
    }

    /// The answer to a long-poll request `origin` forwarded here as `id`.
    pub(super) async fn poll_answered(&self, origin: String, id: u64, answer: Bytes) {
        self.send(Command::PollAnswer { origin, id, answer }).await;
    }

    pub(super) async fn uni_connect(&self, conn: ConnId, request: Bytes) {
        self.send(Command::UniConnect { conn, request }).await;
    }

    pub(super) fn refill_soon(&self, conn: ConnId) {
        self.send_soon(Command::Refill(conn));
    }

    pub(super) fn closed(&self, conn: ConnId) {
        self.send_soon(Command::Closed(conn));
    }

    pub(super) async fn api(&self, method: String, body: Bytes) -> Option<ApiResponse> {
        let (answer, response) = oneshot::channel();
        let command = Command::Api {
            method,
            body,
            answer,
        };
        if !self.send(command).await {
            return None;
        }
        response.await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::HttpApiConfig;

    #[test]
    fn api_keys_are_read_from_either_header() {
        let config = Config {
            http_api: HttpApiConfig {
                key: "k1".into(),
                insecure: false,
            },
            ..Config::default()
        };
        let settings = Settings::new(&config, WebSocketConfig::default());
        let with =
            |name: &str, value: &str| Request::builder().header(name, value).body(()).unwrap();
        assert!(settings.api_key_matches(&with("x-api-key", "k1")));
        assert!(settings.api_key_matches(&with("authorization", "ApiKey k1")));
        assert!(!settings.api_key_matches(&with("x-api-key", "k2")));
        assert!(!settings.api_key_matches(&with("authorization", "Bearer k1")));
        assert!(!settings.api_key_matches(&Request::new(())));
    }
}
