//! The task that owns the sans-IO [`pushwire_hub::Hub`]: transports and
//! the server API send it [`Command`]s; after each batch of them it moves
//! what each connection is to send into that connection's [`Outlet`],
//! and it sleeps until the hub's next deadline (pings, expiries).
//!
//! One task, so every hub operation is atomic: a recovering subscribe
//! cannot miss or duplicate a publication made meanwhile.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use pushwire_hub::api::ApiResponse;
use pushwire_hub::{ConnId, Hub, Stats, Timestamp, Transport};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::metrics::Metrics;
use super::outlet::{Close, Outlet};

/// Commands the driver takes in one go before it delivers.
const BATCH: usize = 256;

/// What transports and the server API ask of the hub.
pub(crate) enum Command {
    /// A transport opened: the hub answers with the connection's handle.
    Open {
        transport: Transport,
        outlet: Arc<Outlet>,
        opened: oneshot::Sender<ConnId>,
    },
    /// A bidirectional transport received a frame of commands.
    Frame { conn: ConnId, frame: Bytes },
    /// A unidirectional transport's connect request.
    UniConnect { conn: ConnId, request: Bytes },
    /// The connection wrote what it took and has room for more.
    Refill(ConnId),
    /// The transport ended.
    Closed(ConnId),
    /// A server API call (the key was checked already).
    Api {
        method: String,
        body: Bytes,
        answer: oneshot::Sender<ApiResponse>,
    },
    /// The hub's counters.
    Stats { answer: oneshot::Sender<Stats> },
}

/// The current time as the hub counts it.
pub(crate) fn now() -> Timestamp {
    Timestamp::from_system_time(SystemTime::now())
}

/// Runs the hub until every sender of `commands` is gone.
pub(crate) async fn run(hub: Hub, mut commands: mpsc::Receiver<Command>, metrics: Arc<Metrics>) {
    let mut driver = Driver {
        hub,
        outlets: HashMap::new(),
        ready: Vec::new(),
        scratch: Vec::new(),
    };
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let deadline = driver.hub.poll_timeout().map(instant_of);
        tokio::select! {
            received = commands.recv_many(&mut batch, BATCH) => {
                if received == 0 {
                    // Every sender is gone: the hub stops.
                    break;
                }
            }
            () = sleep_until(deadline) => {}
        }
        let started = Instant::now();
        let now = now();
        for command in batch.drain(..) {
            driver.handle(now, command);
        }
        if driver.hub.poll_timeout().is_some_and(|due| due <= now) {
            driver.hub.handle_timeout(now);
        }
        driver.deliver(now);
        metrics.round(started.elapsed());
    }
    for outlet in driver.outlets.values() {
        outlet.end();
    }
}

/// Sleeps until `deadline`; forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The runtime's instant at which the wall clock reads `at`.
fn instant_of(at: Timestamp) -> Instant {
    Instant::now() + at.saturating_since(now())
}

struct Driver {
    hub: Hub,
    outlets: HashMap<ConnId, Arc<Outlet>>,
    /// Connections with output, reused between rounds.
    ready: Vec<ConnId>,
    scratch: Vec<Bytes>,
}

impl Driver {
    fn handle(&mut self, now: Timestamp, command: Command) {
        match command {
            Command::Open {
                transport,
                outlet,
                opened,
            } => {
                let conn = self.hub.open(now, transport);
                if opened.send(conn).is_ok() {
                    self.outlets.insert(conn, outlet);
                } else {
                    self.hub.close(now, conn);
                }
            }
            Command::Frame { conn, frame } => self.hub.handle_frame(now, conn, &frame),
            Command::UniConnect { conn, request } => {
                self.hub.handle_uni_connect(now, conn, &request)
            }
            Command::Refill(conn) => self.flush(now, conn),
            Command::Closed(conn) => {
                if self.outlets.remove(&conn).is_some() {
                    self.hub.close(now, conn);
                }
            }
            Command::Api {
                method,
                body,
                answer,
            } => {
                let _ = answer.send(self.hub.api(now, &method, &body));
            }
            Command::Stats { answer } => {
                let _ = answer.send(self.hub.stats().clone());
            }
        }
    }

    /// Moves output into the outlets of the connections that have some.
    fn deliver(&mut self, now: Timestamp) {
        self.hub.poll_ready(&mut self.ready);
        let mut ready = std::mem::take(&mut self.ready);
        for conn in ready.drain(..) {
            self.flush(now, conn);
        }
        self.ready = ready;
    }

    /// Moves what fits of `conn`'s outbox into its outlet; once the hub
    /// has decided to disconnect it and nothing is left, ends it.
    fn flush(&mut self, now: Timestamp, conn: ConnId) {
        let Some(outlet) = self.outlets.get(&conn) else {
            return;
        };
        let Some(outbox) = self.hub.outbox(conn) else {
            return;
        };
        let room = outlet.room();
        if room > 0 {
            outbox.drain_into(&mut self.scratch, room);
        }
        let more = !outbox.is_empty();
        let disconnect = if more {
            None
        } else {
            outbox.disconnect().cloned()
        };
        if !self.scratch.is_empty() || more {
            outlet.put(&mut self.scratch, more);
        }
        if let Some(disconnect) = disconnect {
            outlet.close(Close {
                code: u16::try_from(disconnect.code).unwrap_or(3000),
                reason: disconnect.reason,
            });
            self.outlets.remove(&conn);
            self.hub.close(now, conn);
        }
    }
}
