//! Long polling without sticky sessions: on a hub of many nodes (the Redis
//! engine), a poll or close for a session another node holds goes to that
//! node through the engine, runs there, and its answer comes back the same
//! way. A session names its node first (`<node>.<id>`), so the node that
//! gets the request knows where to send it.
//!
//! On the engine, a forwarded request is `<session>\n<ack>` (or
//! `<session>\nclose`) and its answer `<status>\n<body>`.

use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::BodyExt;
use tokio::sync::mpsc;

use super::held::Deferred;
use super::{batch_response, lock, lost_state_body, plain, LongPoll};
use crate::http::body::Body;

/// How much longer than a held poll a forwarded one may take.
const FORWARD_MARGIN: Duration = Duration::from_secs(5);

/// A forwarded request that reached the node holding its session: the
/// node it came from, its number there, and the request.
pub(crate) type ForwardedPoll = (String, u64, Bytes);

/// A forwarded request: a poll with `ack`, or a close.
fn request(session: &str, ack: Option<u64>) -> Bytes {
    let what = ack.map_or_else(|| "close".to_owned(), |a| a.to_string());
    Bytes::from(format!("{session}\n{what}"))
}

fn parse_request(request: &[u8]) -> Option<(&str, Option<u64>)> {
    let text = std::str::from_utf8(request).ok()?;
    let (session, what) = text.split_once('\n')?;
    match what {
        "close" => Some((session, None)),
        ack => Some((session, Some(ack.parse().ok()?))),
    }
}

fn parse_answer(answer: &Bytes) -> Option<(StatusCode, Bytes)> {
    let split = answer.iter().position(|&b| b == b'\n')?;
    let status = std::str::from_utf8(&answer[..split]).ok()?.parse().ok()?;
    Some((
        StatusCode::from_u16(status).ok()?,
        answer.slice(split + 1..),
    ))
}

impl LongPoll {
    /// The node that holds `session`, when it is not this one and this
    /// node can forward to it.
    pub(super) fn elsewhere<'a>(&self, session: &'a str) -> Option<&'a str> {
        let own = self.node.as_deref()?;
        let (node, _) = session.split_once('.')?;
        (node != own && !lock(&self.sessions).contains_key(session)).then_some(node)
    }

    /// Sends a close to the node holding `session` and answers with what
    /// it answered.
    pub(super) async fn forward_close(&self, node: &str, session: &str) -> Response<Body> {
        let wait = self.config.hold + FORWARD_MARGIN;
        let answer = self
            .hub
            .forward_poll(node, request(session, None), wait)
            .await;
        match answer.as_ref().and_then(parse_answer) {
            Some((status, body)) => plain_bytes(status, body),
            None => plain(StatusCode::NO_CONTENT, ""),
        }
    }

    /// Sends a poll with `ack` to the node holding `session`. Its answer
    /// is a `200` at once, whose body (as for a poll held here, see
    /// `held.rs`) is what that node answered: a node that does not answer
    /// in time gets the client an empty batch (it polls again), an answer
    /// that is not a `200` (a request that node could not take) the
    /// final body of an unknown session.
    pub(super) fn forward_poll(
        self: &Arc<Self>,
        node: &str,
        session: &str,
        ack: u64,
    ) -> Response<Body> {
        let long_poll = self.clone();
        let node = node.to_owned();
        let request = request(session, Some(ack));
        batch_response(Deferred::new(async move {
            let wait = long_poll.config.hold + FORWARD_MARGIN;
            let answer = long_poll.hub.forward_poll(&node, request, wait).await;
            match answer.as_ref().and_then(parse_answer) {
                Some((StatusCode::OK, body)) => body,
                Some((status, _)) => {
                    tracing::debug!(%status, node = %node, "a forwarded long poll was refused");
                    lost_state_body("long poll session expired or unknown")
                }
                None => Bytes::new(),
            }
        }))
    }

    /// Runs a request another node forwarded here; gives its answer.
    async fn serve_forwarded(self: &Arc<Self>, request: &[u8]) -> Bytes {
        let response = match parse_request(request) {
            Some((session, Some(ack))) => self.poll(session, ack, None),
            Some((session, None)) => {
                self.remove(session);
                plain(StatusCode::NO_CONTENT, "")
            }
            None => plain(StatusCode::BAD_REQUEST, "bad forwarded poll\n"),
        };
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        let mut answer = format!("{status}\n").into_bytes();
        answer.extend_from_slice(&body);
        answer.into()
    }
}

/// Serves the polls other nodes forward here while the hub lives; each
/// answer goes back to the node that asked.
pub(crate) async fn serve_forwarded_polls(
    long_poll: Weak<LongPoll>,
    mut requests: mpsc::UnboundedReceiver<ForwardedPoll>,
) {
    while let Some((origin, id, request)) = requests.recv().await {
        let Some(long_poll) = long_poll.upgrade() else {
            return;
        };
        tokio::spawn(async move {
            let answer = long_poll.serve_forwarded(&request).await;
            long_poll.hub.poll_answered(origin, id, answer).await;
        });
    }
}

fn plain_bytes(status: StatusCode, body: Bytes) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_answers_round_trip() {
        assert_eq!(
            parse_request(&request("n.s", Some(7))),
            Some(("n.s", Some(7)))
        );
        assert_eq!(parse_request(&request("n.s", None)), Some(("n.s", None)));
        assert_eq!(parse_request(b"n.s\nx"), None);
        assert_eq!(parse_request(b"n.s"), None);
        let answer = Bytes::from_static(b"200\n{\"poll\":{\"seq\":2}}\n{}");
        assert_eq!(
            parse_answer(&answer),
            Some((
                StatusCode::OK,
                Bytes::from_static(b"{\"poll\":{\"seq\":2}}\n{}")
            ))
        );
        assert_eq!(parse_answer(&Bytes::from_static(b"x\n")), None);
    }
}
