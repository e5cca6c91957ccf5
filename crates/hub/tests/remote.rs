//! Hubs on a remote engine: two nodes share one engine that this test plays
//! deterministically (storage by the in-memory broker, pub/sub by routing
//! each publication to the nodes that link its channel), so that ordering,
//! gaps and failures can be driven exactly.

mod support;

use std::collections::HashSet;

use pushwire_hub::api::ApiOutcome;
use pushwire_hub::broker::{Broker, MemoryBroker};
use pushwire_hub::engine::{
    BrokerReply, BrokerRequest, ClusterNotice, NODE_INFO_INTERVAL, NODE_INFO_LIFETIME,
    SURVEY_TIMEOUT,
};
use pushwire_hub::history::{Publication, PublicationParts};
use pushwire_hub::protocol::ErrorCode;
use pushwire_hub::{ConnId, Hub, HubConfig, Timestamp, Transport};
use support::{config_json, json, T0};

/// The engine and its nodes.
struct Cluster {
    engine: MemoryBroker,
    nodes: Vec<Hub>,
    links: Vec<HashSet<String>>,
    now: Timestamp,
    /// When set, link requests fail (the engine is unreachable).
    down: bool,
    /// Nodes that are gone without a word: their requests are lost and
    /// nothing reaches them.
    silent: Vec<bool>,
}

impl Cluster {
    fn new(n: usize) -> Self {
        let now = Timestamp::from_secs(T0);
        let nodes = (0..n)
            .map(|i| {
                let cfg: HubConfig = serde_json::from_value(config_json()).unwrap();
                Hub::with_remote_engine(cfg, [i as u8 + 1; 32], now).unwrap()
            })
            .collect();
        Cluster {
            engine: MemoryBroker::new([42; 32]),
            nodes,
            links: vec![HashSet::new(); n],
            now,
            down: false,
            silent: vec![false; n],
        }
    }

    /// Carries out every request until no node has any left.
    fn pump(&mut self) {
        loop {
            let mut any = false;
            for i in 0..self.nodes.len() {
                while let Some((t, req)) = self.nodes[i].poll_broker() {
                    any = true;
                    if self.silent[i] {
                        continue;
                    }
                    if let Some(reply) = self.carry_out(i, req) {
                        self.nodes[i].handle_broker_reply(self.now, t, reply);
                    }
                }
            }
            if !any {
                return;
            }
        }
    }

    fn carry_out(&mut self, node: usize, req: BrokerRequest) -> Option<BrokerReply> {
        let now = self.now;
        let fail = ErrorCode::INTERNAL;
        Some(match req {
            BrokerRequest::Publish {
                channel,
                data,
                info,
                tags,
                opts,
            } => {
                if self.down {
                    return Some(BrokerReply::Published(Err(fail)));
                }
                let parts = PublicationParts {
                    channel: &channel,
                    data: &data,
                    info: info.as_deref(),
                    tags: tags.as_ref(),
                };
                let r = self.engine.publish(now, &channel, parts, &opts);
                if let Ok(r) = &r {
                    if !r.suppressed {
                        let epoch = r
                            .position
                            .as_ref()
                            .map(|p| p.epoch.clone())
                            .unwrap_or_default();
                        self.route(&channel, r.publication.clone(), &epoch);
                    }
                }
                BrokerReply::Published(r)
            }
            BrokerRequest::History {
                channel,
                query,
                meta_ttl,
            } => BrokerReply::History(self.engine.history(now, &channel, &query, meta_ttl)),
            BrokerRequest::Link { channel } => {
                if self.down {
                    return Some(BrokerReply::Done(Err(fail)));
                }
                self.links[node].insert(channel.to_string());
                BrokerReply::Done(Ok(()))
            }
            BrokerRequest::Unlink { channel } => {
                self.links[node].remove(&*channel);
                return None;
            }
            BrokerRequest::AddPresence { channel, entry } => {
                self.engine.add_presence(&channel, entry);
                return None;
            }
            BrokerRequest::RemovePresence { channel, client } => {
                self.engine.remove_presence(&channel, &client);
                return None;
            }
            BrokerRequest::Presence { channel } => {
                BrokerReply::Presence(Ok(self.engine.presence(&channel)))
            }
            BrokerRequest::PresenceStats { channel } => {
                BrokerReply::PresenceStats(Ok(self.engine.presence_stats(&channel)))
            }
            BrokerRequest::Join { channel, info } => {
                for (i, n) in self.nodes.iter_mut().enumerate() {
                    if self.links[i].contains(&*channel) {
                        n.handle_broker_join(&channel, &info);
                    }
                }
                return None;
            }
            BrokerRequest::Leave { channel, info } => {
                for (i, n) in self.nodes.iter_mut().enumerate() {
                    if self.links[i].contains(&*channel) {
                        n.handle_broker_leave(&channel, &info);
                    }
                }
                return None;
            }
            BrokerRequest::Control { message } => {
                for (i, n) in self.nodes.iter_mut().enumerate() {
                    if !self.silent[i] {
                        n.handle_broker_control(now, &message);
                    }
                }
                return None;
            }
            BrokerRequest::ControlTo { node, message } => {
                for (i, n) in self.nodes.iter_mut().enumerate() {
                    if !self.silent[i] && n.node_id() == node {
                        n.handle_broker_control(now, &message);
                    }
                }
                return None;
            }
            BrokerRequest::RemoveHistory { channel } => {
                self.engine.remove_history(now, &channel);
                BrokerReply::Done(Ok(()))
            }
            other => panic!("unexpected request {other:?}"),
        })
    }

    /// Pub/sub: a publication reaches every node that links its channel.
    fn route(&mut self, channel: &str, p: Publication, epoch: &str) {
        for (i, n) in self.nodes.iter_mut().enumerate() {
            if self.links[i].contains(channel) {
                n.handle_broker_publication(self.now, channel, p.clone(), epoch);
            }
        }
    }

    /// Every node that is not silent runs its timers (sending its report
    /// when due), and the engine carries out what follows.
    fn report(&mut self) {
        for i in 0..self.nodes.len() {
            if !self.silent[i] {
                self.nodes[i].handle_timeout(self.now);
            }
        }
        self.pump();
    }

    /// The ids of the nodes `info` lists on `node`, in its order.
    fn info_uids(&mut self, node: usize) -> Vec<String> {
        let r = self.api(node, "info", "{}");
        json(&r)["result"]["nodes"]
            .as_array()
            .unwrap_or_else(|| panic!("{r}"))
            .iter()
            .map(|n| n["uid"].as_str().unwrap().to_owned())
            .collect()
    }

    fn ids(&self, nodes: &[usize]) -> Vec<String> {
        nodes
            .iter()
            .map(|&i| self.nodes[i].node_id().to_owned())
            .collect()
    }

    fn notices(&mut self, node: usize) -> Vec<ClusterNotice> {
        std::iter::from_fn(|| self.nodes[node].poll_cluster_notice()).collect()
    }

    /// A client of `node` connected as user `u1`.
    fn connect(&mut self, node: usize) -> ConnId {
        let c = self.nodes[node].open(self.now, Transport::websocket());
        let token = pushwire_hub::jwt::mint_hs256(
            support::SECRET.as_bytes(),
            &serde_json::json!({"sub": "u1", "exp": T0 + 3600}),
        )
        .unwrap();
        self.send(
            node,
            c,
            &format!(r#"{{"id":1,"connect":{{"token":"{token}"}}}}"#),
        );
        let out = self.drain(node, c);
        assert!(out[0].starts_with(r#"{"id":1,"connect":"#), "{out:?}");
        c
    }

    fn send(&mut self, node: usize, c: ConnId, text: &str) {
        self.nodes[node].handle_frame(self.now, c, text.as_bytes());
        self.pump();
    }

    fn drain(&mut self, node: usize, c: ConnId) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(o) = self.nodes[node].outbox(c) {
            o.drain_into(&mut out, usize::MAX);
        }
        out.into_iter()
            .map(|b| String::from_utf8(b.to_vec()).unwrap())
            .collect()
    }

    /// A server API call on `node`, answered once the engine replied.
    fn api(&mut self, node: usize, method: &str, body: &str) -> String {
        let out = self.nodes[node].api_request(self.now, method, body.as_bytes());
        self.pump();
        let r = match out {
            ApiOutcome::Done(r) => r,
            ApiOutcome::Pending(t) => {
                let (got, r) = self.nodes[node].poll_api().expect("answer");
                assert_eq!(got, t);
                r
            }
        };
        assert_eq!(r.status, 200);
        String::from_utf8(r.body.to_vec()).unwrap()
    }
}

#[test]
fn a_publication_through_one_node_reaches_a_subscriber_on_the_other() {
    let mut net = Cluster::new(2);
    let a = net.connect(0);
    net.send(0, a, r#"{"id":2,"subscribe":{"channel":"chat:room"}}"#);
    let out = net.drain(0, a);
    assert_eq!(out.len(), 1, "{out:?}");
    let sub = json(&out[0]);
    assert_eq!(sub["subscribe"]["recoverable"], true);
    let epoch = sub["subscribe"]["epoch"].as_str().unwrap().to_owned();

    for i in 1..=3 {
        let r = net.api(
            1,
            "publish",
            &format!(r#"{{"channel":"chat:room","data":{{"n":{i}}}}}"#),
        );
        assert_eq!(json(&r)["result"]["offset"], i, "{r}");
        assert_eq!(json(&r)["result"]["epoch"], epoch.as_str());
    }
    let out = net.drain(0, a);
    let offsets: Vec<u64> = out
        .iter()
        .map(|m| json(m)["push"]["pub"]["offset"].as_u64().unwrap())
        .collect();
    assert_eq!(offsets, [1, 2, 3], "{out:?}");

    // History and presence answered from the engine on either node.
    let h = net.api(1, "history", r#"{"channel":"chat:room","limit":-1}"#);
    assert_eq!(
        json(&h)["result"]["publications"].as_array().unwrap().len(),
        3
    );
    let p = net.api(1, "presence_stats", r#"{"channel":"chat:room"}"#);
    assert_eq!(json(&p)["result"]["num_clients"], 1, "{p}");
}

#[test]
fn commands_behind_a_subscribe_that_waits_keep_their_order() {
    let mut net = Cluster::new(1);
    let a = net.connect(0);
    // Subscribe waits for the link; publish and history come after it.
    net.nodes[0].handle_frame(
        net.now,
        a,
        br#"{"id":2,"subscribe":{"channel":"chat:x"}}
{"id":3,"publish":{"channel":"chat:x","data":{"m":1}}}
{"id":4,"history":{"channel":"chat:x","limit":-1}}"#,
    );
    assert!(net.drain(0, a).is_empty());
    net.pump();
    let out = net.drain(0, a);
    let ids: Vec<String> = out
        .iter()
        .map(|m| {
            let v = json(m);
            v.get("id").map_or("push".to_owned(), |i| i.to_string())
        })
        .collect();
    assert_eq!(ids, ["2", "push", "3", "4"], "{out:?}");
    let history = json(&out[3]);
    assert_eq!(
        history["history"]["publications"].as_array().unwrap().len(),
        1,
        "{out:?}"
    );
}

#[test]
fn a_gap_makes_subscribers_recover_and_they_miss_nothing() {
    let mut net = Cluster::new(2);
    let a = net.connect(0);
    net.send(0, a, r#"{"id":2,"subscribe":{"channel":"chat:g"}}"#);
    let sub = json(&net.drain(0, a)[0]);
    let epoch = sub["subscribe"]["epoch"].as_str().unwrap().to_owned();
    net.api(1, "publish", r#"{"channel":"chat:g","data":{"n":1}}"#);
    assert_eq!(net.drain(0, a).len(), 1);

    // Publication 2 is lost on its way to node 0 (pub/sub dropped it):
    // node 0 no longer links the channel while it is published.
    net.links[0].remove("chat:g");
    net.api(1, "publish", r#"{"channel":"chat:g","data":{"n":2}}"#);
    net.links[0].insert("chat:g".into());
    net.api(1, "publish", r#"{"channel":"chat:g","data":{"n":3}}"#);

    // Offset 3 after 1: the subscriber is told to resubscribe (2500).
    let out = net.drain(0, a);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(
        json(&out[0])["push"]["unsubscribe"]["code"],
        2500,
        "{out:?}"
    );
    assert_eq!(net.nodes[0].stats().link_breaks_total, 1);

    // It resubscribes from offset 1 and recovers 2 and 3.
    net.send(
        0,
        a,
        &format!(r#"{{"id":3,"subscribe":{{"channel":"chat:g","recover":true,"offset":1,"epoch":"{epoch}"}}}}"#),
    );
    let out = net.drain(0, a);
    let r = json(&out[0]);
    assert_eq!(r["subscribe"]["recovered"], true, "{out:?}");
    let pubs = r["subscribe"]["publications"].as_array().unwrap();
    let offsets: Vec<u64> = pubs.iter().map(|p| p["offset"].as_u64().unwrap()).collect();
    assert_eq!(offsets, [2, 3]);
}

#[test]
fn a_lost_engine_connection_makes_subscribers_recover() {
    let mut net = Cluster::new(1);
    let a = net.connect(0);
    net.send(0, a, r#"{"id":2,"subscribe":{"channel":"chat:l"}}"#);
    net.drain(0, a);
    net.nodes[0].handle_broker_lost(&["chat:l".into()]);
    net.pump();
    let out = net.drain(0, a);
    assert_eq!(
        json(&out[0])["push"]["unsubscribe"]["code"],
        2500,
        "{out:?}"
    );
    assert!(!net.links[0].contains("chat:l"), "the link ended");
}

#[test]
fn the_position_check_catches_a_publication_pubsub_lost() {
    let mut net = Cluster::new(1);
    let a = net.connect(0);
    net.send(0, a, r#"{"id":2,"subscribe":{"channel":"chat:p"}}"#);
    net.drain(0, a);
    // A publication stored in the engine that never reached the node.
    net.links[0].remove("chat:p");
    net.api(0, "publish", r#"{"channel":"chat:p","data":{"n":1}}"#);
    net.links[0].insert("chat:p".into());
    // Two checks: the first sees the engine ahead, the second that the
    // mirror never caught up.
    for _ in 0..25 {
        net.now = net.now + std::time::Duration::from_secs(1);
        net.nodes[0].handle_timeout(net.now);
        net.pump();
    }
    let out: Vec<String> = net.drain(0, a).into_iter().filter(|m| m != "{}").collect();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(
        json(&out[0])["push"]["unsubscribe"]["code"],
        2500,
        "{out:?}"
    );
}

#[test]
fn an_unreachable_engine_answers_error_100_and_the_connection_stays() {
    let mut net = Cluster::new(1);
    let a = net.connect(0);
    net.down = true;
    net.send(0, a, r#"{"id":2,"subscribe":{"channel":"chat:d"}}"#);
    let out = net.drain(0, a);
    assert_eq!(json(&out[0])["error"]["code"], 100, "{out:?}");
    assert_eq!(json(&out[0])["error"]["temporary"], true, "{out:?}");
    let r = net.api(0, "publish", r#"{"channel":"chat:d","data":{}}"#);
    assert_eq!(json(&r)["error"]["code"], 100, "{r}");
    net.down = false;
    net.send(0, a, r#"{"id":3,"subscribe":{"channel":"chat:d"}}"#);
    let out = net.drain(0, a);
    assert_eq!(json(&out[0])["id"], 3, "{out:?}");
    assert!(json(&out[0])["subscribe"].is_object(), "{out:?}");
}

#[test]
fn server_api_user_commands_reach_every_node() {
    let mut net = Cluster::new(2);
    let a = net.connect(0);
    // Subscribed through node 1's API: node 0 links the channel first.
    net.api(1, "subscribe", r#"{"user":"u1","channel":"chat:s"}"#);
    let out = net.drain(0, a);
    assert_eq!(json(&out[0])["push"]["channel"], "chat:s", "{out:?}");
    assert!(json(&out[0])["push"]["subscribe"].is_object(), "{out:?}");
    net.api(1, "publish", r#"{"channel":"chat:s","data":{"x":1}}"#);
    assert_eq!(net.drain(0, a).len(), 1);
    net.api(1, "disconnect", r#"{"user":"u1"}"#);
    assert!(net.nodes[0].outbox(a).unwrap().disconnect().is_some());
}

#[test]
fn history_remove_reaches_every_mirror() {
    let mut net = Cluster::new(2);
    let a = net.connect(0);
    net.send(0, a, r#"{"id":2,"subscribe":{"channel":"chat:h"}}"#);
    net.api(1, "publish", r#"{"channel":"chat:h","data":{"n":1}}"#);
    net.api(1, "history_remove", r#"{"channel":"chat:h"}"#);
    net.drain(0, a);
    // Node 0 answers from its mirror: no publications, the position kept.
    net.send(
        0,
        a,
        r#"{"id":3,"history":{"channel":"chat:h","limit":-1}}"#,
    );
    let out = net.drain(0, a);
    let h = json(&out[0]);
    assert!(h["history"].get("publications").is_none(), "{out:?}");
    assert_eq!(h["history"]["offset"], 1, "{out:?}");
}

#[test]
fn a_connect_with_server_side_channels_waits_for_their_links() {
    let mut net = Cluster::new(2);
    let c = net.nodes[0].open(net.now, Transport::websocket());
    let token = pushwire_hub::jwt::mint_hs256(
        support::SECRET.as_bytes(),
        &serde_json::json!({"sub": "u2", "exp": T0 + 3600, "channels": ["chat:one", "chat:two"]}),
    )
    .unwrap();
    net.nodes[0].handle_frame(
        net.now,
        c,
        format!(r#"{{"id":1,"connect":{{"token":"{token}"}}}}"#).as_bytes(),
    );
    // Nothing until both links are live.
    assert!(net.drain(0, c).is_empty());
    net.pump();
    let out = net.drain(0, c);
    let r = json(&out[0]);
    assert!(r["connect"]["subs"]["chat:one"].is_object(), "{out:?}");
    assert!(r["connect"]["subs"]["chat:two"].is_object(), "{out:?}");
    net.api(1, "publish", r#"{"channel":"chat:two","data":{"x":1}}"#);
    let out = net.drain(0, c);
    assert_eq!(json(&out[0])["push"]["channel"], "chat:two", "{out:?}");
}

#[test]
fn a_connection_closed_while_it_waits_leaves_nothing_behind() {
    let mut net = Cluster::new(1);
    let a = net.connect(0);
    net.nodes[0].handle_frame(net.now, a, br#"{"id":2,"subscribe":{"channel":"chat:z"}}"#);
    net.nodes[0].close(net.now, a);
    net.pump();
    // The link came up for nobody: it lingers a few seconds, then ends.
    assert!(net.links[0].contains("chat:z"));
    for _ in 0..7 {
        net.now = net.now + std::time::Duration::from_secs(1);
        net.nodes[0].handle_timeout(net.now);
        net.pump();
    }
    assert!(!net.links[0].contains("chat:z"));
    assert_eq!(net.nodes[0].stats().subscriptions, 0);
}

#[test]
fn a_batch_runs_its_commands_one_after_another_and_its_consecutive_publishes_together() {
    let mut net = Cluster::new(1);
    let body = r#"{"commands":[
        {"publish":{"channel":"chat:b","data":{"n":1}}},
        {"info":{}},
        {"publish":{"channel":"chat:b","data":{"n":2}}},
        {"publish":{"channel":"chat:b","data":{"n":3}}},
        {"presence_stats":{"channel":"chat:b"}},
        {"publish":{"channel":"chat:b","data":{"n":4}}}]}"#;
    let outcome = net.nodes[0].api_request(net.now, "batch", body.as_bytes());
    let ApiOutcome::Pending(ticket) = outcome else {
        panic!("{outcome:?}");
    };
    // Each round sends what may go before the engine answers: a publish
    // alone when another command follows it, consecutive publishes together
    // (the engine carries them out in order).
    let mut rounds = Vec::new();
    loop {
        let out: Vec<_> = std::iter::from_fn(|| net.nodes[0].poll_broker()).collect();
        if out.is_empty() {
            break;
        }
        let kinds: Vec<&str> = out
            .iter()
            .map(|(_, req)| match req {
                BrokerRequest::Publish { .. } => "publish",
                BrokerRequest::PresenceStats { .. } => "presence_stats",
                _ => "other",
            })
            .collect();
        rounds.push(kinds.join("+"));
        for (t, req) in out {
            let reply = net.carry_out(0, req).expect("a reply");
            net.nodes[0].handle_broker_reply(net.now, t, reply);
        }
    }
    assert_eq!(
        rounds,
        ["publish", "publish+publish", "presence_stats", "publish"]
    );
    let (got, r) = net.nodes[0].poll_api().expect("the answer");
    assert_eq!(got, ticket);
    let v = json(std::str::from_utf8(&r.body).unwrap());
    let replies = v["replies"].as_array().unwrap();
    assert_eq!(replies.len(), 6, "{v}");
    let offsets: Vec<u64> = [0, 2, 3, 5]
        .iter()
        .map(|&i| replies[i]["publish"]["offset"].as_u64().unwrap())
        .collect();
    assert_eq!(offsets, [1, 2, 3, 4], "{v}");
    assert!(replies[1]["info"].is_object(), "{v}");
    assert!(replies[4]["presence_stats"].is_object(), "{v}");
}

#[test]
fn a_parallel_batch_sends_its_commands_at_once() {
    let mut net = Cluster::new(1);
    let body = r#"{"parallel":true,"commands":[
        {"publish":{"channel":"chat:p","data":{"n":1}}},
        {"publish":{"channel":"chat:q","data":{"n":2}}}]}"#;
    let outcome = net.nodes[0].api_request(net.now, "batch", body.as_bytes());
    assert!(matches!(outcome, ApiOutcome::Pending(_)), "{outcome:?}");
    let mut out = Vec::new();
    while let Some(r) = net.nodes[0].poll_broker() {
        out.push(r);
    }
    assert_eq!(out.len(), 2, "both publishes are out at once");
    for (t, req) in out {
        let reply = net.carry_out(0, req).expect("a reply");
        net.nodes[0].handle_broker_reply(net.now, t, reply);
    }
    let (_, r) = net.nodes[0].poll_api().expect("the answer");
    let v = json(std::str::from_utf8(&r.body).unwrap());
    assert_eq!(v["replies"][0]["publish"]["offset"], 1, "{v}");
    assert_eq!(v["replies"][1]["publish"]["offset"], 1, "{v}");
}

/// `info` on node `me` of three: itself first, then the others by id.
fn info_order(net: &Cluster, me: usize) -> Vec<String> {
    let mut others: Vec<String> = (0..net.nodes.len())
        .filter(|&i| i != me)
        .map(|i| net.nodes[i].node_id().to_owned())
        .collect();
    others.sort();
    let mut order = vec![net.nodes[me].node_id().to_owned()];
    order.extend(others);
    order
}

#[test]
fn info_lists_every_live_node_and_drops_one_that_went_silent() {
    let mut net = Cluster::new(3);
    // Before any report a node knows only itself.
    assert_eq!(net.info_uids(0), net.ids(&[0]));
    net.report();
    for me in 0..3 {
        assert_eq!(net.info_uids(me), info_order(&net, me));
    }
    let joined: Vec<ClusterNotice> = net
        .ids(&[1, 2])
        .into_iter()
        .map(|uid| ClusterNotice::NodeJoined { uid })
        .collect();
    let mut got = net.notices(0);
    got.sort_by_key(|n| format!("{n:?}"));
    let mut want = joined;
    want.sort_by_key(|n| format!("{n:?}"));
    assert_eq!(got, want);

    // A client on node 2 shows in its next report.
    net.connect(2);
    net.now = net.now + NODE_INFO_INTERVAL;
    net.report();
    let r = json(&net.api(0, "info", "{}"));
    let node2 = r["result"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["uid"] == net.nodes[2].node_id())
        .cloned()
        .unwrap();
    assert_eq!(node2["num_clients"], 1, "{r}");
    assert_eq!(node2["num_users"], 1, "{r}");
    assert_eq!(node2["name"], "pushwire", "{r}");
    assert!(node2["uptime"].is_u64(), "{r}");

    // Node 2 goes silent: it stays listed for the lifetime after its
    // last report, then it is gone.
    let last_report = net.now;
    net.silent[2] = true;
    while net.now + NODE_INFO_INTERVAL < last_report + NODE_INFO_LIFETIME {
        net.now = net.now + NODE_INFO_INTERVAL;
        net.report();
        assert_eq!(net.info_uids(0), info_order(&net, 0), "still live");
    }
    net.now = last_report + NODE_INFO_LIFETIME;
    net.report();
    assert_eq!(net.info_uids(0), net.ids(&[0, 1]));
    assert!(
        net.notices(0).contains(&ClusterNotice::NodeLost {
            uid: net.nodes[2].node_id().to_owned()
        }),
        "node 0 tells that node 2 is lost"
    );
}

#[test]
fn channels_sums_the_subscribers_of_every_node() {
    let mut net = Cluster::new(2);
    net.report();
    let a = net.connect(0);
    let b = net.connect(1);
    let b2 = net.connect(1);
    for (node, conn, channels) in [
        (0, a, &["chat:shared", "chat:only-a"][..]),
        (1, b, &["chat:shared", "chat:only-b"][..]),
        (1, b2, &["chat:shared"][..]),
    ] {
        for (i, ch) in channels.iter().enumerate() {
            let id = i + 2;
            net.send(
                node,
                conn,
                &format!(r#"{{"id":{id},"subscribe":{{"channel":"{ch}"}}}}"#),
            );
        }
        net.drain(node, conn);
    }
    for node in [0, 1] {
        // Asked of either node: one survey, answered once the other node did.
        let outcome = net.nodes[node].api_request(net.now, "channels", b"{}");
        assert!(matches!(outcome, ApiOutcome::Pending(_)), "{outcome:?}");
        net.pump();
        let (_, r) = net.nodes[node].poll_api().expect("answered");
        assert_eq!(
            json(std::str::from_utf8(&r.body).unwrap()),
            serde_json::json!({"result": {"channels": {
                "chat:only-a": {"num_clients": 1},
                "chat:only-b": {"num_clients": 1},
                "chat:shared": {"num_clients": 3},
            }}})
        );
    }
    let r = net.api(0, "channels", r#"{"pattern":"chat:only-*"}"#);
    assert_eq!(
        json(&r),
        serde_json::json!({"result": {"channels": {
            "chat:only-a": {"num_clients": 1},
            "chat:only-b": {"num_clients": 1},
        }}})
    );
    // In a batch too, beside info.
    let r = net.api(
        1,
        "batch",
        r#"{"commands":[{"channels":{"pattern":"chat:s*"}},{"info":{}}]}"#,
    );
    let v = json(&r);
    assert_eq!(
        v["replies"][0]["channels"]["channels"]["chat:shared"]["num_clients"], 3,
        "{v}"
    );
    assert_eq!(
        v["replies"][1]["info"]["nodes"].as_array().unwrap().len(),
        2
    );
    // A bad body is refused before any survey.
    let bad = net.nodes[0].api_request(net.now, "channels", br#"{"pattern":1}"#);
    let ApiOutcome::Done(bad) = bad else {
        panic!("{bad:?}");
    };
    assert_eq!(bad.status, 400);
    assert!(net.nodes[0].poll_broker().is_none());
}

#[test]
fn channels_answers_without_a_silent_node_when_its_time_is_up() {
    let mut net = Cluster::new(2);
    net.report();
    net.notices(0);
    let a = net.connect(0);
    net.send(0, a, r#"{"id":2,"subscribe":{"channel":"chat:x"}}"#);
    net.silent[1] = true;
    let outcome = net.nodes[0].api_request(net.now, "channels", b"{}");
    let ApiOutcome::Pending(ticket) = outcome else {
        panic!("{outcome:?}");
    };
    net.pump();
    assert!(net.nodes[0].poll_api().is_none(), "waits for node 1");
    let deadline = net.now + SURVEY_TIMEOUT;
    assert!(net.nodes[0].poll_timeout().unwrap() <= deadline);
    net.now = Timestamp::from_millis(deadline.as_millis() - 1);
    net.report();
    assert!(net.nodes[0].poll_api().is_none(), "not before its time");
    net.now = deadline;
    net.report();
    let (got, r) = net.nodes[0].poll_api().expect("answered at the deadline");
    assert_eq!(got, ticket);
    assert_eq!(
        json(std::str::from_utf8(&r.body).unwrap()),
        serde_json::json!({"result": {"channels": {"chat:x": {"num_clients": 1}}}})
    );
    assert_eq!(
        net.notices(0),
        [ClusterNotice::SurveyIncomplete {
            missing: net.ids(&[1])
        }]
    );
}

#[test]
fn a_node_that_leaves_is_dropped_at_once() {
    let mut net = Cluster::new(2);
    net.report();
    net.notices(0);
    net.nodes[1].leave_cluster();
    net.pump();
    assert_eq!(net.info_uids(0), net.ids(&[0]));
    assert_eq!(
        net.notices(0),
        [ClusterNotice::NodeLeft {
            uid: net.nodes[1].node_id().to_owned()
        }]
    );
    // No node left to ask: channels is answered at once.
    let outcome = net.nodes[0].api_request(net.now, "channels", b"{}");
    assert!(matches!(outcome, ApiOutcome::Done(_)), "{outcome:?}");
}

#[test]
fn garbage_control_messages_change_nothing() {
    let mut net = Cluster::new(2);
    net.report();
    let now = net.now;
    for message in [
        &b"node\n{"[..],
        b"node\n{\"uid\":\"x\"}",
        b"node-leave\n\xff",
        b"channels-survey\nnode\nnot-a-number\n*",
        b"channels-survey",
        b"channels-answer\n1\nx\n[1,2]",
        b"channels-answer\n99\nx\n{}",
        b"\xff\n",
        b"",
    ] {
        net.nodes[0].handle_broker_control(now, message);
    }
    assert!(net.nodes[0].poll_broker().is_none());
    assert_eq!(net.info_uids(0), info_order(&net, 0));
}
