//! Commands that wait: while one command of a connection waits — for its
//! backend (the proxy), for a channel link or a reply of the remote engine
//! — the connection's later commands wait behind it, so that they run in
//! the order the client sent them and see the effect of those before.
//! Other connections are not held up. A pong never waits: it only answers
//! the last ping.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

use super::{Auth, ConnId, Fail, Hub};
use crate::api::SubscribeReq;
use crate::client::State;
use crate::protocol::{reply, Command, Disconnect, ErrorCode, SubscribePosition};
use crate::time::Timestamp;

/// Something a connection asked for that waits its turn.
#[derive(Debug)]
pub(crate) enum Held {
    /// A command as the client sent it.
    Part(Bytes),
    /// A connect whose identity is known, waiting for the links of its
    /// server-side channels.
    Connect {
        id: u32,
        auth: Auth,
        positions: HashMap<String, SubscribePosition>,
    },
    /// A server-side subscription made through the server API.
    ServerSubscribe(SubscribeReq),
}

impl Hub {
    /// Whether `conn` has a command in progress that later ones wait for.
    pub(crate) fn blocked(&self, conn: ConnId) -> bool {
        self.proxy_blocked(conn) || self.engine_busy(conn)
    }

    /// Whether `conn`'s next command must wait.
    pub(crate) fn must_hold(&self, conn: ConnId) -> bool {
        self.blocked(conn) || (!self.held.is_empty() && self.held.contains_key(&conn))
    }

    /// Queues `item` behind the waiting ones; over
    /// `client.proxy.max_queued_commands` a command gets error 100 at once.
    pub(crate) fn hold(&mut self, conn: ConnId, item: Held) {
        let max = self.cfg.client.proxy.max_queued_commands;
        let queue = self.held.entry(conn).or_default();
        if queue.len() < max {
            queue.push_back(item);
            return;
        }
        if let Held::Part(part) = item {
            match Command::decode(&part) {
                Ok(cmd) => self.send(conn, reply::error_reply(cmd.id, &ErrorCode::INTERNAL)),
                Err(_) => self.disconnect(conn, Disconnect::BAD_REQUEST, false),
            }
        }
    }

    /// Puts back the item that was running and found it must wait: it is
    /// the first to run again.
    pub(crate) fn hold_first(&mut self, conn: ConnId, item: Held) {
        self.held.entry(conn).or_default().push_front(item);
    }

    /// Forgets what `conn` had waiting.
    pub(crate) fn forget_held(&mut self, conn: ConnId) {
        self.held.remove(&conn);
    }

    /// Runs `conn`'s waiting commands in order, until one waits again.
    pub(crate) fn resume(&mut self, now: Timestamp, conn: ConnId) {
        while !self.blocked(conn) {
            let Some(item) = self.held.get_mut(&conn).and_then(VecDeque::pop_front) else {
                self.held.remove(&conn);
                break;
            };
            match self.client(conn).map(|c| c.state) {
                None | Some(State::Closed) => {
                    self.held.remove(&conn);
                    return;
                }
                _ => {}
            }
            let go_on = match item {
                Held::Part(part) => self.run_command(now, conn, &part, &mut |_| {}),
                Held::Connect {
                    id,
                    auth,
                    positions,
                } => {
                    let r = self.connect_as(now, conn, id, auth, positions);
                    self.connect_failed(conn, id, r)
                }
                Held::ServerSubscribe(r) => {
                    self.server_subscribe(now, conn, &r);
                    true
                }
            };
            if !go_on {
                self.held.remove(&conn);
                return;
            }
        }
        self.schedule(conn);
    }

    /// Answers a connect's failure as its transport allows; false when the
    /// connection is done for.
    pub(crate) fn connect_failed(&mut self, conn: ConnId, id: u32, r: Result<(), Fail>) -> bool {
        let Err(f) = r else {
            return true;
        };
        let uni = self
            .client(conn)
            .is_some_and(|c| c.transport.is_unidirectional());
        if uni {
            self.uni_connect_result(conn, Err(f));
        } else {
            self.fail(conn, id, f);
        }
        false
    }

    /// The first waiting item of `conn` could not get what it waited for:
    /// it is answered with error 100 (temporary), the rest runs.
    pub(crate) fn fail_first_held(&mut self, now: Timestamp, conn: ConnId) {
        let first = self.held.get_mut(&conn).and_then(VecDeque::pop_front);
        let go_on = match first {
            Some(Held::Part(part)) => match Command::decode(&part) {
                Ok(cmd) => self.fail(conn, cmd.id, Fail::Error(ErrorCode::INTERNAL)),
                Err(_) => false,
            },
            Some(Held::Connect { id, .. }) => {
                self.connect_failed(conn, id, Err(Fail::Error(ErrorCode::INTERNAL)))
            }
            Some(Held::ServerSubscribe(_)) | None => true,
        };
        if go_on {
            self.resume(now, conn);
        } else {
            self.held.remove(&conn);
        }
    }
}
