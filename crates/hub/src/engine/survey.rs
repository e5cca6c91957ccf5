//! `channels` surveys on a remote engine: the node that got the server API
//! call asks every node for its channels matching the pattern (one control
//! message to all), each answers the asking node alone with its counts, and
//! the call is answered with the counts summed by channel once every live
//! node answered, or after [`SURVEY_TIMEOUT`] without the silent ones.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use super::BrokerTicket;
use crate::api::obj;
use crate::time::Timestamp;

/// How long a survey waits for the nodes' answers.
pub const SURVEY_TIMEOUT: Duration = Duration::from_secs(2);

/// How a control message asking for channels begins: then the asking
/// node's id, the survey's number there and the pattern, `\n` between.
pub(crate) const SURVEY_MESSAGE: &str = "channels-survey";

/// How a node's answer to a survey begins: then the survey's number, the
/// answering node's id and its counts (a JSON object, channel → number of
/// subscribers), `\n` between.
pub(crate) const ANSWER_MESSAGE: &str = "channels-answer";

/// Channel name → subscribers, on one node or summed over several.
pub(crate) type ChannelCounts = BTreeMap<String, u64>;

/// A survey request: who asks, under which number, for which pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SurveyRequest {
    pub origin: String,
    pub id: u64,
    pub pattern: String,
}

impl SurveyRequest {
    /// The control message for every node.
    pub(crate) fn message(&self) -> Vec<u8> {
        format!(
            "{SURVEY_MESSAGE}\n{}\n{}\n{}",
            self.origin, self.id, self.pattern
        )
        .into_bytes()
    }

    /// A request from the body of a survey message (after its first line).
    pub(crate) fn decode(body: &str) -> Option<SurveyRequest> {
        let (origin, rest) = body.split_once('\n')?;
        let (id, pattern) = rest.split_once('\n')?;
        if origin.is_empty() {
            return None;
        }
        Some(SurveyRequest {
            origin: origin.to_owned(),
            id: id.parse().ok()?,
            pattern: pattern.to_owned(),
        })
    }
}

/// One node's answer to a survey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SurveyAnswer {
    pub id: u64,
    pub node: String,
    pub counts: ChannelCounts,
}

impl SurveyAnswer {
    /// The control message for the asking node.
    pub(crate) fn message(&self) -> Vec<u8> {
        let mut message = format!("{ANSWER_MESSAGE}\n{}\n{}\n", self.id, self.node).into_bytes();
        // Strings and numbers: serializing cannot fail.
        message.extend_from_slice(&serde_json::to_vec(&self.counts).unwrap_or_default());
        message
    }

    /// An answer from the body of an answer message (after its first line).
    pub(crate) fn decode(body: &[u8]) -> Option<SurveyAnswer> {
        let mut parts = body.splitn(3, |&b| b == b'\n');
        let id = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
        let node = std::str::from_utf8(parts.next()?).ok()?.to_owned();
        let counts = serde_json::from_slice(parts.next()?).ok()?;
        Some(SurveyAnswer { id, node, counts })
    }
}

/// One survey under way.
#[derive(Debug)]
pub(crate) struct ChannelsSurvey {
    /// What the server API call's piece waits for.
    pub ticket: BrokerTicket,
    /// When it is answered with what it has.
    pub deadline: Timestamp,
    /// The live nodes that have not answered yet.
    pub missing: HashSet<String>,
    /// The nodes that answered (a repeated answer is not counted twice).
    answered: HashSet<String>,
    counts: ChannelCounts,
}

impl ChannelsSurvey {
    /// A survey that starts with this node's own `counts` and waits for
    /// the nodes `expected` until `deadline`.
    pub(crate) fn new(
        ticket: BrokerTicket,
        counts: ChannelCounts,
        expected: impl IntoIterator<Item = String>,
        deadline: Timestamp,
    ) -> Self {
        ChannelsSurvey {
            ticket,
            deadline,
            missing: expected.into_iter().collect(),
            answered: HashSet::new(),
            counts,
        }
    }

    /// Adds a node's counts (a node it did not wait for too: it has just
    /// started); a node's second answer is ignored.
    pub(crate) fn answer(&mut self, node: &str, counts: ChannelCounts) {
        if !self.answered.insert(node.to_owned()) {
            return;
        }
        self.missing.remove(node);
        for (channel, n) in counts {
            let sum = self.counts.entry(channel).or_default();
            *sum = sum.saturating_add(n);
        }
    }

    /// Whether every node it waits for has answered.
    pub(crate) fn complete(&self) -> bool {
        self.missing.is_empty()
    }

    /// The `channels` result: `{"channels":{name:{"num_clients":n}}}`.
    pub(crate) fn result(&self) -> Vec<u8> {
        channels_result(&self.counts)
    }
}

/// The `channels` result object for `counts`.
pub(crate) fn channels_result(counts: &ChannelCounts) -> Vec<u8> {
    obj(|w| {
        w.open_key("channels");
        for (name, &n) in counts {
            w.key_escaped(name);
            w.open();
            w.u64("num_clients", n);
            w.close();
        }
        w.close();
    })
}

/// The surveys this node started and waits for, by number.
#[derive(Debug, Default)]
pub(crate) struct Surveys {
    next_id: u64,
    open: HashMap<u64, ChannelsSurvey>,
}

impl Surveys {
    /// Keeps a survey; gives its number.
    pub(crate) fn start(&mut self, survey: ChannelsSurvey) -> u64 {
        self.next_id += 1;
        self.open.insert(self.next_id, survey);
        self.next_id
    }

    /// Adds an answer; gives the survey back, done, once it is complete.
    /// Answers to surveys that ended are ignored.
    pub(crate) fn answer(&mut self, answer: SurveyAnswer) -> Option<ChannelsSurvey> {
        let survey = self.open.get_mut(&answer.id)?;
        survey.answer(&answer.node, answer.counts);
        if survey.complete() {
            return self.open.remove(&answer.id);
        }
        None
    }

    /// Takes out the surveys whose deadline has come.
    pub(crate) fn due(&mut self, now: Timestamp) -> Vec<ChannelsSurvey> {
        let due: Vec<u64> = self
            .open
            .iter()
            .filter(|(_, s)| s.deadline <= now)
            .map(|(&id, _)| id)
            .collect();
        due.iter().filter_map(|id| self.open.remove(id)).collect()
    }

    /// The earliest deadline of an open survey.
    pub(crate) fn next_deadline(&self) -> Option<Timestamp> {
        self.open.values().map(|s| s.deadline).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pairs: &[(&str, u64)]) -> ChannelCounts {
        pairs.iter().map(|&(c, n)| (c.to_owned(), n)).collect()
    }

    fn result(survey: &ChannelsSurvey) -> serde_json::Value {
        serde_json::from_slice(&survey.result()).unwrap()
    }

    #[test]
    fn answers_are_summed_by_channel_and_complete_the_survey() {
        let t0 = Timestamp::from_secs(100);
        let mut surveys = Surveys::default();
        let own = counts(&[("news", 2), ("only:a", 1)]);
        let survey = ChannelsSurvey::new(
            BrokerTicket(7),
            own,
            ["b".to_owned(), "c".to_owned()],
            t0 + SURVEY_TIMEOUT,
        );
        let id = surveys.start(survey);
        let b = SurveyAnswer {
            id,
            node: "b".into(),
            counts: counts(&[("news", 3), ("only:b", 4)]),
        };
        assert!(surveys.answer(b.clone()).is_none());
        // A repeated answer is not counted twice.
        assert!(surveys.answer(b).is_none());
        let c = SurveyAnswer {
            id,
            node: "c".into(),
            counts: counts(&[("news", 1)]),
        };
        let done = surveys.answer(c).expect("complete once c answered");
        assert_eq!(done.ticket, BrokerTicket(7));
        assert_eq!(
            result(&done),
            serde_json::json!({"channels": {
                "news": {"num_clients": 6},
                "only:a": {"num_clients": 1},
                "only:b": {"num_clients": 4},
            }})
        );
        assert_eq!(surveys.next_deadline(), None);
    }

    #[test]
    fn a_silent_node_is_left_out_at_the_deadline() {
        let t0 = Timestamp::from_secs(100);
        let mut surveys = Surveys::default();
        let deadline = t0 + SURVEY_TIMEOUT;
        let survey = ChannelsSurvey::new(
            BrokerTicket(1),
            counts(&[("news", 1)]),
            ["b".to_owned(), "dead".to_owned()],
            deadline,
        );
        let id = surveys.start(survey);
        assert_eq!(surveys.next_deadline(), Some(deadline));
        let b = SurveyAnswer {
            id,
            node: "b".into(),
            counts: counts(&[("news", 1)]),
        };
        assert!(surveys.answer(b).is_none());
        assert!(surveys
            .due(Timestamp::from_millis(deadline.as_millis() - 1))
            .is_empty());
        let due = surveys.due(deadline);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].missing, HashSet::from(["dead".to_owned()]));
        assert_eq!(
            result(&due[0]),
            serde_json::json!({"channels": {"news": {"num_clients": 2}}})
        );
        // A late answer finds nothing.
        let late = SurveyAnswer {
            id,
            node: "dead".into(),
            counts: counts(&[("news", 1)]),
        };
        assert!(surveys.answer(late).is_none());
        assert_eq!(surveys.next_deadline(), None);
    }

    #[test]
    fn messages_round_trip_and_garbage_is_refused() {
        let request = SurveyRequest {
            origin: "node-a".into(),
            id: 12,
            pattern: "chat:*\nstill the pattern".into(),
        };
        let message = String::from_utf8(request.message()).unwrap();
        let body = message.strip_prefix("channels-survey\n").unwrap();
        assert_eq!(SurveyRequest::decode(body), Some(request));
        assert_eq!(SurveyRequest::decode("node-a\nx\n*"), None);
        assert_eq!(SurveyRequest::decode("node-a"), None);
        assert_eq!(SurveyRequest::decode("\n1\n*"), None);

        let answer = SurveyAnswer {
            id: 12,
            node: "node-b".into(),
            counts: counts(&[("a\"b\n", 3)]),
        };
        let message = answer.message();
        let body = message.strip_prefix(b"channels-answer\n").unwrap();
        assert_eq!(SurveyAnswer::decode(body), Some(answer));
        assert_eq!(SurveyAnswer::decode(b"12\nnode-b\n{\"x\":-1}"), None);
        assert_eq!(SurveyAnswer::decode(b"12\nnode-b"), None);
        assert_eq!(SurveyAnswer::decode(b"\xff\nnode-b\n{}"), None);
    }
}
