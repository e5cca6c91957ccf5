//! A set of WebSockets of one transport, and the turns in which it runs
//! alone while its echoes and the CPU time of both sides are counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use pushwire::Message;
use pushwire_probes::procfs::cpu_ticks;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::load_args::{LoadArgs, Transport};
use crate::socket::Socket;

/// How long a set runs, unmeasured, at the start of each of its turns:
/// the previous set's last echoes arrive meanwhile.
const SETTLE: Duration = Duration::from_millis(20);

/// A moment of the measurement: echoes so far, and CPU ticks used.
struct Mark {
    at: Instant,
    echoes: u64,
    server_ticks: Option<u64>,
    client_ticks: Option<u64>,
}

impl Mark {
    fn now(echoes: &AtomicU64, server_pid: Option<u32>) -> Mark {
        Mark {
            at: Instant::now(),
            echoes: echoes.load(Ordering::Relaxed),
            server_ticks: server_pid.and_then(|pid| cpu_ticks(&pid.to_string())),
            client_ticks: cpu_ticks("self"),
        }
    }
}

/// A sum of CPU ticks plus those between two readings; unknown once a
/// reading failed.
fn add_ticks(sum: Option<u64>, start: Option<u64>, end: Option<u64>) -> Option<u64> {
    Some(sum? + end? - start?)
}

/// Whether a set's WebSockets send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Waiting,
    Running,
    Done,
}

/// One set of WebSockets and what its turns measured.
pub struct Set {
    transport: Transport,
    phase: watch::Sender<Phase>,
    echoes: Arc<AtomicU64>,
    messages: u64,
    secs: f64,
    server_ticks: Option<u64>,
    client_ticks: Option<u64>,
}

impl Set {
    /// Starts a closed loop on each of `sockets`, sending only while the
    /// set is running.
    pub fn start(
        transport: Transport,
        sockets: Vec<Socket>,
        size: usize,
        tasks: &mut JoinSet<Result<(), String>>,
    ) -> Set {
        let (phase, _) = watch::channel(Phase::Waiting);
        let echoes = Arc::new(AtomicU64::new(0));
        let payload = Bytes::from(vec![0x5a; size]);
        for mut socket in sockets {
            let (mut phase, echoes, payload) = (phase.subscribe(), echoes.clone(), payload.clone());
            tasks.spawn(async move {
                loop {
                    let now = *phase.borrow_and_update();
                    match now {
                        Phase::Done => return Ok(()),
                        Phase::Waiting => {
                            phase.changed().await.map_err(|e| e.to_string())?;
                            continue;
                        }
                        Phase::Running => {}
                    }
                    let reply = socket.echo(Message::binary(payload.clone())).await?;
                    if reply.len() != payload.len() {
                        return Err(format!(
                            "echo of {} bytes came back as {}",
                            payload.len(),
                            reply.len()
                        ));
                    }
                    echoes.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        Set {
            transport,
            phase,
            echoes,
            messages: 0,
            secs: 0.0,
            server_ticks: Some(0),
            client_ticks: Some(0),
        }
    }

    /// Runs the set alone for `length`, after the settling time; adds
    /// what it did to its totals when `measured`.
    pub async fn turn(&mut self, length: Duration, measured: bool, server_pid: Option<u32>) {
        self.phase.send_replace(Phase::Running);
        tokio::time::sleep(SETTLE).await;
        let start = Mark::now(&self.echoes, server_pid);
        tokio::time::sleep(length).await;
        let end = Mark::now(&self.echoes, server_pid);
        self.phase.send_replace(Phase::Waiting);
        if measured {
            self.messages += end.echoes - start.echoes;
            self.secs += (end.at - start.at).as_secs_f64();
            self.server_ticks = add_ticks(self.server_ticks, start.server_ticks, end.server_ticks);
            self.client_ticks = add_ticks(self.client_ticks, start.client_ticks, end.client_ticks);
        }
    }

    /// Ends the closed loops of the set's WebSockets.
    pub fn stop(&self) {
        self.phase.send_replace(Phase::Done);
    }

    /// The set's totals as one JSON line.
    pub fn report(&self, load: &LoadArgs) -> String {
        // 10 ms a tick; reported as µs of CPU per echoed message.
        let per_message = |ticks: Option<u64>| match ticks {
            Some(ticks) if self.messages > 0 => {
                format!("{:.3}", ticks as f64 * 1e4 / self.messages as f64)
            }
            _ => "null".to_owned(),
        };
        format!(
            "{{\"set\":\"{}\",\"sockets\":{},\"size\":{},\"messages\":{},\"secs\":{:.3},\"msgs_per_sec\":{:.1},\"server_cpu_us_per_msg\":{},\"client_cpu_us_per_msg\":{}}}",
            self.transport.name(),
            load.sockets,
            load.size,
            self.messages,
            self.secs,
            self.messages as f64 / self.secs.max(f64::MIN_POSITIVE),
            per_message(self.server_ticks),
            per_message(self.client_ticks),
        )
    }
}
