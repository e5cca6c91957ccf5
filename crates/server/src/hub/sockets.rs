//! The hub's WebSockets, polled by the driver task itself rather than by a
//! task each: an idle connection is its WebSocket and a few words here, and
//! a publication reaches its subscribers' sockets without a lock, a queue
//! hand-over or a task wake-up in between (uWebSockets writes so too).
//!
//! Each socket has a waker of its own that puts it on a ready list and
//! wakes the driver; the driver then polls only the sockets that woke and
//! reads their commands into the hub. A socket the hub queued output for
//! is due for a write. The driver writes due sockets [`WRITE_CHUNK`] at a
//! time, in the order they became due, one chunk per round: commands (new
//! publications, server API requests) get in between, and a socket sends
//! everything that came for it meanwhile with one write. What it sends is
//! taken from the hub's outbox only then, at most [`WRITE_BUDGET`] bytes
//! ahead of the client, so that a slow client's backlog stays in the hub,
//! under its namespace's policy.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use pushwire_hub::{ConnId, Outbox};
use pushwire_proto::{CloseCode, CloseFrame, Message};
use tokio::time::{Instant, Sleep};
use tokio_util::task::task_tracker::TaskTrackerToken;

use super::metrics::{Metrics, TransportKind};
use super::outlet::OUTLET_BUDGET;
use crate::http::connection::{ConnectionInfo, TurnKey};
use crate::http::shutdown::Shutdown;
use crate::task::lock;
use crate::upgrade::UpgradedStream;
use crate::ws::WebSocket;

/// Bytes a socket may have waiting to be written before the driver stops
/// moving its backlog out of the hub.
pub(crate) const WRITE_BUDGET: usize = OUTLET_BUDGET;

/// How long a client may take to accept what was written to it: past
/// this, it is taken for gone and the connection dropped. (A client that
/// reads slowly but reads is left to its namespace's slow-consumer
/// policy, which applies to the backlog the hub holds.)
const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How often stalled sockets are looked at, while there are any.
const STALL_SWEEP: Duration = Duration::from_secs(5);

/// Messages read from one socket before the driver moves on to the
/// others (the socket is polled again in the next round).
const READ_BUDGET: usize = 32;

/// Sockets written in one round of the driver.
pub(crate) const WRITE_CHUNK: usize = 512;

/// What polling the sockets brought, for the driver to hand to the hub.
#[derive(Debug)]
pub(crate) enum SocketEvent {
    /// A frame of commands from a bidirectional socket.
    Frame { conn: ConnId, frame: Bytes },
    /// A unidirectional socket's first message: its connect request.
    UniConnect { conn: ConnId, request: Bytes },
    /// The connection is over: the client closed or vanished, or the
    /// server is shutting down.
    Ended(ConnId),
}

/// Where a socket is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Carrying the hub's protocol; `connected` once a unidirectional
    /// socket sent its connect request.
    Open { connected: bool },
    /// The close handshake is under way; the hub connection is gone.
    Closing,
}

/// One hub WebSocket.
struct Socket {
    ws: WebSocket<UpgradedStream>,
    waker: Arc<SocketWaker>,
    conn: ConnId,
    kind: TransportKind,
    phase: Phase,
    /// The hub holds more for it than it took: due again once written.
    refill: bool,
    /// Since when a write waits for the client.
    stalled_since: Option<Instant>,
    /// The HTTP connection under it, when a pushwire server accepted it:
    /// its shutdown turn and reason.
    info: Option<ConnectionInfo>,
    /// Keeps the server's graceful shutdown waiting for this socket.
    _hold: Option<TaskTrackerToken>,
}

/// The sockets that woke, and the shutdown turns that came.
#[derive(Default)]
struct ReadyList {
    state: Mutex<Woken>,
    driver: AtomicWaker,
}

#[derive(Default)]
struct Woken {
    sockets: Vec<u32>,
    turns: Vec<TurnKey>,
}

impl ReadyList {
    fn push_turn(&self, turn: TurnKey) {
        lock(&self.state).turns.push(turn);
        self.driver.wake();
    }
}

/// A socket's waker: queues the socket once until it is polled.
struct SocketWaker {
    index: u32,
    queued: AtomicBool,
    list: Arc<ReadyList>,
}

impl Wake for SocketWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            lock(&self.list.state).sockets.push(self.index);
            self.list.driver.wake();
        }
    }
}

/// The hub's WebSockets, by index.
pub(crate) struct Sockets {
    table: Vec<Option<Box<Socket>>>,
    free: Vec<u32>,
    list: Arc<ReadyList>,
    /// The sockets of this round, reused.
    woken: Vec<u32>,
    /// The sockets due for a write, in the order they became due.
    due: VecDeque<u32>,
    /// Whether each socket is on `due`, by index.
    is_due: Vec<bool>,
    turns: Vec<TurnKey>,
    /// The shutdown turns watched and yet to come. A turn that came is
    /// forgotten: a socket adopted after it gets a watcher that fires at
    /// once.
    watched: HashSet<TurnKey>,
    /// Armed while some write is stalled.
    stall_sweep: Option<Pin<Box<Sleep>>>,
    /// What the driver is to hand to the hub.
    events: Vec<SocketEvent>,
    metrics: Arc<Metrics>,
}

impl Sockets {
    pub(crate) fn new(metrics: Arc<Metrics>) -> Self {
        Sockets {
            table: Vec::new(),
            free: Vec::new(),
            list: Arc::default(),
            woken: Vec::new(),
            due: VecDeque::new(),
            is_due: Vec::new(),
            turns: Vec::new(),
            watched: HashSet::new(),
            stall_sweep: None,
            events: Vec::new(),
            metrics,
        }
    }

    /// Takes `ws` in for the hub connection `conn` and polls it in the
    /// next round (the upgrade may have brought its first commands).
    pub(crate) fn adopt(
        &mut self,
        ws: WebSocket<UpgradedStream>,
        conn: ConnId,
        kind: TransportKind,
        info: Option<ConnectionInfo>,
    ) -> u32 {
        let index = self.free.pop().unwrap_or_else(|| {
            self.table.push(None);
            self.is_due.push(false);
            u32::try_from(self.table.len() - 1).expect("fewer than 2^32 sockets")
        });
        if let Some(info) = &info {
            self.watch(info);
        }
        let waker = Arc::new(SocketWaker {
            index,
            queued: AtomicBool::new(false),
            list: self.list.clone(),
        });
        waker.wake_by_ref();
        self.metrics.opened(kind);
        self.table[index as usize] = Some(Box::new(Socket {
            ws,
            waker,
            conn,
            kind,
            phase: Phase::Open { connected: false },
            refill: false,
            stalled_since: None,
            _hold: info.as_ref().map(ConnectionInfo::hold),
            info,
        }));
        index
    }

    /// Makes sure that the shutdown turn of `info` wakes the driver.
    fn watch(&mut self, info: &ConnectionInfo) {
        let turn = info.turn_key();
        if self.watched.insert(turn) {
            let list = self.list.clone();
            let shutting_down = info.shutting_down();
            tokio::spawn(async move {
                shutting_down.await;
                list.push_turn(turn);
            });
        }
    }

    /// Ready when some socket woke or is due for a write, a shutdown turn
    /// came or stalled writes are due for a look.
    pub(crate) fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.due.is_empty() {
            return Poll::Ready(());
        }
        if let Some(sweep) = &mut self.stall_sweep {
            if sweep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(());
            }
        }
        self.list.driver.register(cx.waker());
        let woken = lock(&self.list.state);
        if woken.sockets.is_empty() && woken.turns.is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }

    /// Moves what the sockets brought (see [`SocketEvent`]) into `out`.
    pub(crate) fn take_events(&mut self, out: &mut Vec<SocketEvent>) {
        out.append(&mut self.events);
    }

    /// Polls the sockets that woke: what they read, and the connections
    /// that ended, are taken with [`Sockets::take_events`].
    pub(crate) fn poll_woken(&mut self) {
        {
            let mut woken = lock(&self.list.state);
            std::mem::swap(&mut woken.sockets, &mut self.woken);
            std::mem::swap(&mut woken.turns, &mut self.turns);
        }
        let mut woken = std::mem::take(&mut self.woken);
        for index in woken.drain(..) {
            self.poll_socket(index);
        }
        self.woken = woken;
        if !self.turns.is_empty() {
            self.shut_down_turns();
        }
        if self
            .stall_sweep
            .as_mut()
            .is_some_and(|sweep| sweep.is_elapsed())
        {
            self.sweep_stalled();
        }
    }

    fn poll_socket(&mut self, index: u32) {
        let Some(socket) = self.table.get_mut(index as usize).and_then(Option::as_mut) else {
            return;
        };
        // Cleared first: a wake-up during this poll queues it again.
        socket.waker.queued.store(false, Ordering::Release);
        let waker = Waker::from(socket.waker.clone());
        let mut cx = Context::from_waker(&waker);
        let conn = socket.conn;
        let mut read = 0;
        let ended = loop {
            if read == READ_BUDGET {
                waker.wake_by_ref();
                break false;
            }
            let message = match socket.ws.poll_recv(&mut cx) {
                Poll::Pending => break false,
                Poll::Ready(Some(Ok(message))) => message,
                Poll::Ready(Some(Err(e))) => {
                    tracing::debug!("hub WebSocket ended: {e}");
                    break true;
                }
                Poll::Ready(None) => break true,
            };
            read += 1;
            let Phase::Open { connected } = &mut socket.phase else {
                // Closing: the handshake discards what still comes.
                continue;
            };
            let frame = match message {
                Message::Text(text) => text.into_bytes(),
                Message::Binary(bytes) => bytes,
                Message::Ping(_) | Message::Pong(_) => continue,
                Message::Close(_) => {
                    // The WebSocket answers it; the hub connection is over.
                    socket.phase = Phase::Closing;
                    self.events.push(SocketEvent::Ended(conn));
                    continue;
                }
            };
            if socket.kind == TransportKind::WebSocket {
                self.events.push(SocketEvent::Frame { conn, frame });
            } else if !*connected {
                // Only the first message counts: the connect request.
                *connected = true;
                self.events.push(SocketEvent::UniConnect {
                    conn,
                    request: frame,
                });
            }
        };
        if ended {
            self.remove(index);
        } else {
            self.write(index);
        }
    }

    /// The hub queued output for socket `index`: it is written in turn.
    pub(crate) fn mark_due(&mut self, index: u32) {
        if let Some(due) = self.is_due.get_mut(index as usize) {
            if !*due {
                *due = true;
                self.due.push_back(index);
            }
        }
    }

    /// Moves the next `max` sockets due for a write into `out`.
    pub(crate) fn take_due(&mut self, max: usize, out: &mut Vec<u32>) {
        let n = max.min(self.due.len());
        for index in self.due.drain(..n) {
            self.is_due[index as usize] = false;
            out.push(index);
        }
    }

    /// The hub connection of socket `index`, while it carries one.
    pub(crate) fn conn(&self, index: u32) -> Option<ConnId> {
        let socket = self.table.get(index as usize)?.as_ref()?;
        matches!(socket.phase, Phase::Open { .. }).then_some(socket.conn)
    }

    /// Queues what fits of `outbox` on socket `index`; returns whether the
    /// outbox still holds more (the socket is due again once it has
    /// written what it took).
    pub(crate) fn fill(&mut self, index: u32, outbox: &mut Outbox) -> bool {
        let Some(socket) = self.table.get_mut(index as usize).and_then(Option::as_mut) else {
            return false;
        };
        if socket.phase == Phase::Closing {
            return false;
        }
        while socket.ws.buffered_amount() < WRITE_BUDGET {
            let Some(message) = outbox.pop() else {
                break;
            };
            // The hub writes JSON from validated input: always UTF-8.
            if socket.ws.start_send_text_shared(message).is_err() {
                break;
            }
        }
        socket.refill = !outbox.is_empty();
        socket.refill
    }

    /// Writes what socket `index` has queued; a socket whose client
    /// vanished ends (see [`Sockets::take_events`]).
    pub(crate) fn write(&mut self, index: u32) {
        let Some(socket) = self.table.get_mut(index as usize).and_then(Option::as_mut) else {
            return;
        };
        // What was queued may have gone out already (reading writes too).
        if socket.ws.buffered_amount() == 0 {
            socket.stalled_since = None;
        } else {
            let waker = Waker::from(socket.waker.clone());
            if flush(
                socket,
                &mut Context::from_waker(&waker),
                &mut self.stall_sweep,
            )
            .is_err()
            {
                self.remove(index);
                return;
            }
        }
        if socket.refill && socket.ws.buffered_amount() == 0 {
            socket.refill = false;
            self.mark_due(index);
        }
    }

    /// Closes socket `index` with `frame` after what it has queued; its
    /// hub connection is gone.
    pub(crate) fn close(&mut self, index: u32, frame: CloseFrame) {
        let Some(socket) = self.table.get_mut(index as usize).and_then(Option::as_mut) else {
            return;
        };
        if socket.phase != Phase::Closing {
            socket.phase = Phase::Closing;
            let _ = socket.ws.start_send(Message::Close(Some(frame)));
            socket.waker.wake_by_ref();
        }
    }

    /// Closes the open sockets whose shutdown turn came: 1012 for a
    /// restart (clients reconnect), else the hub's 3001 (shutdown).
    fn shut_down_turns(&mut self) {
        let turns = std::mem::take(&mut self.turns);
        for turn in &turns {
            self.watched.remove(turn);
        }
        let closing: Vec<(u32, CloseFrame)> = self
            .table
            .iter()
            .enumerate()
            .filter_map(|(index, socket)| {
                let socket = socket.as_ref()?;
                let info = socket.info.as_ref()?;
                if socket.phase == Phase::Closing || !turns.contains(&info.turn_key()) {
                    return None;
                }
                self.events.push(SocketEvent::Ended(socket.conn));
                let frame = match info.shutdown() {
                    Some(Shutdown::Restart) => Shutdown::Restart.close_frame(),
                    _ => shutting_down(),
                };
                Some((u32::try_from(index).ok()?, frame))
            })
            .collect();
        for (index, frame) in closing {
            self.close(index, frame);
        }
    }

    /// Drops the sockets whose client took nothing for
    /// [`WRITE_STALL_TIMEOUT`]; keeps the sweep armed while others wait.
    fn sweep_stalled(&mut self) {
        let now = Instant::now();
        let mut still_stalled = false;
        let mut gone = Vec::new();
        for (index, socket) in self.table.iter().enumerate() {
            let Some(since) = socket.as_ref().and_then(|s| s.stalled_since) else {
                continue;
            };
            if now.duration_since(since) >= WRITE_STALL_TIMEOUT {
                gone.push(index as u32);
            } else {
                still_stalled = true;
            }
        }
        for index in gone {
            tracing::debug!(
                "hub WebSocket dropped: its client took nothing for {WRITE_STALL_TIMEOUT:?}"
            );
            self.remove(index);
        }
        self.stall_sweep = still_stalled.then(|| Box::pin(tokio::time::sleep(STALL_SWEEP)));
    }

    /// Forgets socket `index`; its hub connection ends if it was open.
    fn remove(&mut self, index: u32) {
        let Some(socket) = self.table.get_mut(index as usize).and_then(Option::take) else {
            return;
        };
        if socket.phase != Phase::Closing {
            self.events.push(SocketEvent::Ended(socket.conn));
        }
        self.metrics.closed(socket.kind);
        self.free.push(index);
    }

    /// The hub stopped: closes every socket with 3001 (shutdown), and
    /// finishes their close handshakes on a task of their own.
    pub(crate) fn close_all(mut self) {
        for index in 0..self.table.len() {
            self.close(index as u32, shutting_down());
        }
        tokio::spawn(async move {
            std::future::poll_fn(|cx| {
                self.list.driver.register(cx.waker());
                self.poll_woken();
                self.events.clear();
                if self.table.iter().all(Option::is_none) {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
            .await;
        });
    }
}

/// Writes out what `socket` has queued; a write that must wait marks the
/// socket stalled and arms the sweep, which drops it after
/// [`WRITE_STALL_TIMEOUT`].
fn flush(
    socket: &mut Socket,
    cx: &mut Context<'_>,
    sweep: &mut Option<Pin<Box<Sleep>>>,
) -> Result<(), ()> {
    match socket.ws.poll_flush(cx) {
        Poll::Ready(result) => {
            socket.stalled_since = None;
            result.map_err(drop)
        }
        Poll::Pending => {
            socket.stalled_since.get_or_insert_with(Instant::now);
            sweep.get_or_insert_with(|| Box::pin(tokio::time::sleep(STALL_SWEEP)));
            Ok(())
        }
    }
}

/// The hub stopped: clients reconnect (3001 shutdown).
pub(crate) fn shutting_down() -> CloseFrame {
    CloseFrame::new(CloseCode::from(3001), "shutdown")
}
