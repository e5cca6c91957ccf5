//! The hub among the other nodes of a remote engine: its periodic report
//! to them, what their reports tell (the server API's `info`), and
//! `channels` surveys (see [`crate::engine::nodes`] and
//! [`crate::engine::survey`]).

use super::{Hub, VERSION};
use crate::api::{Piece, PieceResult};
use crate::channel::glob_match;
use crate::engine::nodes::{
    leave_message, Heard, NodeInfo, NODE_INFO_INTERVAL, NODE_INFO_MESSAGE, NODE_LEAVE_MESSAGE,
};
use crate::engine::state::{Render, Waiter};
use crate::engine::survey::{
    channels_result, ChannelCounts, ChannelsSurvey, SurveyAnswer, SurveyRequest, ANSWER_MESSAGE,
    SURVEY_MESSAGE, SURVEY_TIMEOUT,
};
use crate::engine::{BrokerRequest, ClusterNotice};
use crate::protocol::json::JsonWriter;
use crate::time::Timestamp;

/// Most notices kept for the IO layer; past it the oldest go.
const MAX_NOTICES: usize = 64;

impl Hub {
    /// This node's entry of the server API's `info`.
    fn own_node_info(&self, now: Timestamp) -> NodeInfo {
        NodeInfo {
            uid: self.node_id.clone(),
            name: match self.cfg.node.name.as_str() {
                "" => "pushwire".into(),
                name => name.into(),
            },
            version: VERSION.into(),
            num_clients: self.users.connections() as u64,
            num_users: self.users.len() as u64,
            num_subs: self.stats.subscriptions,
            num_channels: self.channels.len() as u64,
            uptime: now.saturating_since(self.started).as_secs(),
        }
    }

    /// The `info` result: this node first, then every other live node of a
    /// remote engine, by id.
    pub(crate) fn info_result(&self, now: Timestamp) -> Vec<u8> {
        let own = self.own_node_info(now);
        let others = self
            .remote
            .as_ref()
            .map(|r| r.nodes.live(now))
            .unwrap_or_default();
        let mut w = JsonWriter::with_capacity(256);
        w.open();
        w.key("nodes");
        w.buf.push(b'[');
        own.write(&mut w);
        for node in others {
            w.buf.push(b',');
            node.write(&mut w);
        }
        w.buf.push(b']');
        w.close();
        w.finish()
    }

    /// This node's channels whose names match `pattern` (all when empty),
    /// with their subscribers here.
    fn channel_counts(&self, pattern: &str) -> ChannelCounts {
        self.channels
            .values()
            .filter(|c| pattern.is_empty() || glob_match(pattern, &c.name))
            .map(|c| (c.name.to_string(), c.subscribers.len() as u64))
            .collect()
    }

    /// The `channels` method: this node's channels now, or, on a remote
    /// engine with other live nodes, a survey of every node whose merged
    /// answers come later.
    pub(crate) fn channels_piece(&mut self, now: Timestamp, pattern: String) -> Piece {
        let counts = self.channel_counts(&pattern);
        let Some(remote) = self.remote.as_mut() else {
            return Piece::Ready(Ok(channels_result(&counts)));
        };
        let expected: Vec<String> = remote
            .nodes
            .live(now)
            .into_iter()
            .map(|n| n.uid.clone())
            .collect();
        if expected.is_empty() {
            return Piece::Ready(Ok(channels_result(&counts)));
        }
        let ticket = remote.ticket();
        let survey = ChannelsSurvey::new(ticket, counts, expected, now + SURVEY_TIMEOUT);
        let id = remote.surveys.start(survey);
        let request = SurveyRequest {
            origin: self.node_id.clone(),
            id,
            pattern,
        };
        remote.request(
            BrokerRequest::Control {
                message: request.message().into(),
            },
            None,
        );
        Piece::Wait(ticket, Render::Survey)
    }

    /// When [`cluster_timers`](Hub::cluster_timers) next has something to
    /// do (none on the in-memory engine).
    pub(super) fn cluster_deadline(&self) -> Option<Timestamp> {
        let remote = self.remote.as_ref()?;
        let report = remote.next_node_info;
        Some(
            remote
                .surveys
                .next_deadline()
                .map_or(report, |s| s.min(report)),
        )
    }

    /// Sends this node's report when it is due (forgetting the nodes not
    /// heard from for too long), and answers the surveys whose time is up
    /// with what they have.
    pub(super) fn cluster_timers(&mut self, now: Timestamp) {
        let Some(remote) = self.remote.as_ref() else {
            return;
        };
        if now >= remote.next_node_info {
            let report = self.own_node_info(now).message();
            let Some(remote) = self.remote.as_mut() else {
                return;
            };
            remote.next_node_info = now + NODE_INFO_INTERVAL;
            for uid in remote.nodes.expire(now) {
                notify(remote, ClusterNotice::NodeLost { uid });
            }
            remote.request(
                BrokerRequest::Control {
                    message: report.into(),
                },
                None,
            );
        }
        let due = self
            .remote
            .as_mut()
            .map(|r| r.surveys.due(now))
            .unwrap_or_default();
        for survey in due {
            self.survey_done(now, survey);
        }
    }

    /// A control message about nodes or surveys (`kind` is its first line,
    /// `body` the rest). Anything else, or anything malformed, is ignored.
    pub(crate) fn handle_cluster_control(&mut self, now: Timestamp, kind: &str, body: &[u8]) {
        let Some(remote) = self.remote.as_mut() else {
            return;
        };
        match kind {
            NODE_INFO_MESSAGE => {
                let Some(info) = NodeInfo::decode(body) else {
                    return;
                };
                if info.uid == self.node_id {
                    return;
                }
                let uid = info.uid.clone();
                if remote.nodes.heard(info, now) == Heard::New {
                    notify(remote, ClusterNotice::NodeJoined { uid });
                    // The new node learns about this one without waiting
                    // for its next report.
                    remote.next_node_info = now;
                }
            }
            NODE_LEAVE_MESSAGE => {
                let Ok(uid) = std::str::from_utf8(body) else {
                    return;
                };
                if remote.nodes.left(uid) {
                    let uid = uid.to_owned();
                    notify(remote, ClusterNotice::NodeLeft { uid });
                }
            }
            SURVEY_MESSAGE => {
                let Some(request) = std::str::from_utf8(body)
                    .ok()
                    .and_then(SurveyRequest::decode)
                else {
                    return;
                };
                // The asking node counted its own channels.
                if request.origin == self.node_id {
                    return;
                }
                let answer = SurveyAnswer {
                    id: request.id,
                    node: self.node_id.clone(),
                    counts: self.channel_counts(&request.pattern),
                };
                if let Some(remote) = self.remote.as_mut() {
                    remote.request(
                        BrokerRequest::ControlTo {
                            node: request.origin,
                            message: answer.message().into(),
                        },
                        None,
                    );
                }
            }
            ANSWER_MESSAGE => {
                let Some(answer) = SurveyAnswer::decode(body) else {
                    return;
                };
                if let Some(done) = remote.surveys.answer(answer) {
                    self.survey_done(now, done);
                }
            }
            _ => {}
        }
    }

    /// A survey ended (every node answered, or its time is up): its server
    /// API call gets the merged counts.
    fn survey_done(&mut self, now: Timestamp, survey: ChannelsSurvey) {
        let Some(remote) = self.remote.as_mut() else {
            return;
        };
        if !survey.complete() {
            let mut missing: Vec<String> = survey.missing.iter().cloned().collect();
            missing.sort_unstable();
            notify(remote, ClusterNotice::SurveyIncomplete { missing });
        }
        let Some(Waiter::Api { job, index, .. }) = remote.waiters.remove(&survey.ticket.0) else {
            return;
        };
        let result: PieceResult = Ok(survey.result());
        self.api_piece_done(now, job, index, result);
    }

    /// Tells every other node that this one stops, so that they drop it
    /// from `info` and stop waiting for it in surveys at once rather than
    /// after its reports have been missing for a while. The IO layer
    /// carries out the request before it exits; this node sends no more
    /// reports. Nothing happens on the in-memory engine.
    pub fn leave_cluster(&mut self) {
        let Some(remote) = self.remote.as_mut() else {
            return;
        };
        remote.next_node_info = Timestamp::from_millis(u64::MAX);
        remote.request(
            BrokerRequest::Control {
                message: leave_message(&self.node_id).into(),
            },
            None,
        );
    }

    /// The next thing learnt about the other nodes, for the IO layer to
    /// log (none on the in-memory engine). At most the last 64 are kept.
    pub fn poll_cluster_notice(&mut self) -> Option<ClusterNotice> {
        self.remote.as_mut()?.notices.pop_front()
    }
}

/// Keeps a notice for the IO layer, dropping the oldest past the bound.
fn notify(remote: &mut crate::engine::state::Remote, notice: ClusterNotice) {
    if remote.notices.len() >= MAX_NOTICES {
        remote.notices.pop_front();
    }
    remote.notices.push_back(notice);
}
