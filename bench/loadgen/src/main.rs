//! `pushwire-bench`: pushwire and its peers (Bun/uWebSockets,
//! fastwebsockets, tokio-tungstenite, Node `ws`) measured side by side in
//! one invocation, servers pinned to one core and this generator to
//! another.
//!
//! ```text
//! pushwire-bench all            every scenario, results in bench/results/
//! pushwire-bench --quick all    a smoke run of a few seconds (bench/results/quick/)
//! pushwire-bench run echo-100x20B idle-1000
//! pushwire-bench list
//! ```

mod clients;
mod engine;
mod error;
mod payload;
mod peers;
mod pinning;
mod probe;
mod procfs;
mod progress;
mod report;
mod results;
mod runner;
mod scenarios;
mod server;
mod settings;
mod stats;
mod wire;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};

use crate::error::BenchError;
use crate::peers::Paths;
use crate::results::{Machine, PeerInfo, RunReport};
use crate::runner::Runner;
use crate::settings::Settings;

/// Side-by-side WebSocket benchmarks of pushwire and its peers.
#[derive(Parser)]
#[command(name = "pushwire-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Tiny counts and durations: a smoke run of a few seconds.
    #[arg(long, global = true)]
    quick: bool,
    /// Measured runs per peer and scenario (default 5, quick 1).
    #[arg(long, global = true)]
    runs: Option<usize>,
    /// Seconds per measured run (default 2).
    #[arg(long, global = true)]
    seconds: Option<f64>,
    /// Seconds of the unrecorded warm-up run (default 1).
    #[arg(long, global = true)]
    warmup: Option<f64>,
    /// Only these peers (comma separated: pushwire,pushwire-hub,pushwire-hub-redis,bun,fastwebsockets,tokio-tungstenite,socket.io,node-ws).
    #[arg(long, global = true, value_delimiter = ',')]
    peers: Vec<String>,
    /// Where to write results (default bench/results, or bench/results/quick with --quick).
    #[arg(long, global = true)]
    out: Option<PathBuf>,
    /// The pushwire binary (default: target/release/pushwire of the repository).
    #[arg(long, global = true)]
    pushwire_bin: Option<PathBuf>,
    /// CPU the servers are pinned to.
    #[arg(long, global = true, default_value_t = 0)]
    server_cpu: usize,
    /// CPU the generator is pinned to.
    #[arg(long, global = true, default_value_t = 1)]
    generator_cpu: usize,
    /// Do not pin the generator (servers are still pinned).
    #[arg(long, global = true)]
    no_pin: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Run every scenario against every peer.
    All,
    /// Run the named scenarios (see `list`).
    Run {
        /// Scenario ids.
        #[arg(required = true)]
        scenarios: Vec<String>,
    },
    /// List scenarios and peers.
    List,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pushwire-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn settings_from(cli: &Cli) -> Result<Settings, BenchError> {
    let mut settings = if cli.quick {
        Settings::quick()
    } else {
        Settings::full()
    };
    if let Some(runs) = cli.runs {
        if runs == 0 {
            return Err(BenchError::Setup("--runs must be at least 1".to_owned()));
        }
        settings.runs = runs;
    }
    let seconds = |name: &str, v: f64| {
        if v.is_finite() && (0.0..=3600.0).contains(&v) {
            Ok(Duration::from_secs_f64(v))
        } else {
            Err(BenchError::Setup(format!(
                "{name} must be between 0 and 3600 seconds, not {v}"
            )))
        }
    };
    if let Some(s) = cli.seconds {
        settings.duration = seconds("--seconds", s)?;
    }
    if let Some(s) = cli.warmup {
        settings.warmup = seconds("--warmup", s)?;
    }
    settings.server_cpu = cli.server_cpu;
    settings.generator_cpu = cli.generator_cpu;
    Ok(settings)
}

fn run(cli: Cli) -> Result<(), BenchError> {
    let started = Instant::now();
    let settings = settings_from(&cli)?;
    let bench_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .ok_or_else(|| BenchError::Setup("cannot locate the bench/ directory".to_owned()))?;
    let paths = Paths::new(bench_dir.clone(), cli.pushwire_bin.clone());

    let mut scenarios = scenarios::all(&settings);
    let mut peers = peers::all();
    if !cli.peers.is_empty() {
        for wanted in &cli.peers {
            if !peers.iter().any(|p| p.name == wanted) {
                let known: Vec<&str> = peers.iter().map(|p| p.name).collect();
                return Err(BenchError::Setup(format!(
                    "unknown peer {wanted:?}; known: {}",
                    known.join(", ")
                )));
            }
        }
        peers.retain(|p| cli.peers.iter().any(|w| w == p.name));
    }

    match &cli.command {
        Command::List => {
            println!("scenarios:");
            for s in &scenarios {
                let spec = s.spec();
                println!("  {:32} {} [{}]", spec.id, spec.title, spec.unit.label());
            }
            println!("peers:");
            for p in &peers {
                println!("  {:20} {}", p.name, p.description);
            }
            return Ok(());
        }
        Command::Run { scenarios: wanted } => {
            for id in wanted {
                if !scenarios.iter().any(|s| &s.spec().id == id) {
                    return Err(BenchError::Setup(format!(
                        "unknown scenario {id:?}; `pushwire-bench list` shows them"
                    )));
                }
            }
            scenarios.retain(|s| wanted.contains(&s.spec().id));
        }
        Command::All => {}
    }

    if !cli.no_pin {
        if let Some(warning) = pinning::pin_self(settings.generator_cpu)? {
            eprintln!("pushwire-bench: warning: {warning}");
        }
    }
    check_open_file_limit(&scenarios)?;

    let peer_list: Vec<_> = peers
        .iter()
        .map(|peer| {
            let probe_addr = "127.0.0.1:1".parse().expect("a valid literal address");
            let unavailable = peer.command(&paths, probe_addr, false).err();
            (peer.clone(), unavailable)
        })
        .collect();
    let infos: Vec<PeerInfo> = peer_list
        .iter()
        .map(|(peer, unavailable)| PeerInfo {
            name: peer.name.to_owned(),
            description: peer.description.to_owned(),
            version: unavailable
                .is_none()
                .then(|| peer.version(&paths))
                .flatten(),
            unavailable: unavailable.clone(),
        })
        .collect();
    for info in infos.iter().filter(|i| i.unavailable.is_some()) {
        eprintln!(
            "pushwire-bench: {} will not run: {}",
            info.name,
            info.unavailable.as_deref().unwrap_or("")
        );
    }

    let machine = Machine {
        cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
            .max(online_cpus()),
        kernel: command_text("uname", &["-sr"]).unwrap_or_default(),
        load_average_at_start: std::fs::read_to_string("/proc/loadavg")
            .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default(),
    };
    let steps = Runner::steps(&scenarios, peer_list.len(), &settings);
    let mut runner = Runner::new(&settings, &paths, peer_list, steps);
    runner.log(&format!(
        "pushwire-bench: {} scenarios × {} peers, {} runs each; servers on CPU {}, generator on CPU {}",
        scenarios.len(),
        infos.len(),
        settings.runs,
        settings.server_cpu,
        settings.generator_cpu
    ));
    let results = runner.run(&scenarios);

    let report = RunReport {
        started_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            - started.elapsed().as_secs(),
        mode: if settings.quick { "quick" } else { "full" },
        total_secs: started.elapsed().as_secs_f64(),
        machine,
        pushwire_source: pushwire_source(&bench_dir),
        settings: settings.clone(),
        peers: infos,
        scenarios: results,
    };
    let out_dir = cli.out.clone().unwrap_or_else(|| {
        if settings.quick {
            bench_dir.join("results/quick")
        } else {
            bench_dir.join("results")
        }
    });
    let written = report::write_all(&report, &out_dir)?;
    println!("{}", report::summary_table(&report));
    for path in written {
        eprintln!("wrote {}", path.display());
    }
    eprintln!("pushwire-bench: done in {:.1} s", report.total_secs);
    pushwire_verdict(&report)
}

/// Fails the run (after the results are written) when pushwire itself did
/// not run cleanly: a failed or unavailable scenario, or errors counted by
/// the generator. This is what makes `--quick` a smoke test.
fn pushwire_verdict(report: &RunReport) -> Result<(), BenchError> {
    let mut problems = Vec::new();
    for (scenario, cell) in report.scenarios.iter().flat_map(|scenario| {
        [
            peers::PUSHWIRE,
            peers::PUSHWIRE_HUB,
            peers::PUSHWIRE_HUB_REDIS,
        ]
        .into_iter()
        .filter_map(move |peer| Some((scenario, scenario.cell(peer)?)))
    }) {
        match cell.status {
            results::CellStatus::Failed | results::CellStatus::Unavailable => {
                problems.push(format!(
                    "{} · {}: {}",
                    scenario.spec.id,
                    cell.peer,
                    cell.note.as_deref().unwrap_or("failed")
                ))
            }
            _ if cell.errors > 0 => problems.push(format!(
                "{} · {}: {} errors",
                scenario.spec.id, cell.peer, cell.errors
            )),
            _ => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(BenchError::Peer(format!(
            "pushwire did not run cleanly: {}",
            problems.join("; ")
        )))
    }
}

/// Fails early when the idle scenarios cannot hold their connections.
fn check_open_file_limit(scenarios: &[Box<dyn scenarios::Scenario>]) -> Result<(), BenchError> {
    let most = scenarios
        .iter()
        .filter(|s| s.spec().unit == scenarios::Unit::BytesPerConnection)
        .filter_map(|s| {
            s.spec()
                .id
                .strip_prefix("idle-")
                .and_then(|n| n.parse::<u64>().ok())
        })
        .max()
        .unwrap_or(1_000);
    let needed = most + 200;
    match pinning::open_file_limit() {
        Some(limit) if limit < needed => Err(BenchError::Setup(format!(
            "the open-file limit is {limit}, the idle scenario needs {needed}: run `ulimit -n 20000` first (bench/run.sh does)"
        ))),
        _ => Ok(()),
    }
}

/// `commit 1a2b3c4`, with a remark when `crates/` differs from it.
fn pushwire_source(bench_dir: &std::path::Path) -> Option<String> {
    let repo = bench_dir.parent()?.to_str()?;
    let commit = command_text("git", &["-C", repo, "rev-parse", "--short", "HEAD"])?;
    let dirty = command_text(
        "git",
        &[
            "-C",
            repo,
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            "crates",
        ],
    )
    .is_some_and(|changes| !changes.is_empty());
    Some(if dirty {
        format!("commit {commit} plus uncommitted changes in crates/")
    } else {
        format!("commit {commit}")
    })
}

fn online_cpus() -> usize {
    command_text("nproc", &["--all"])
        .and_then(|t| t.parse().ok())
        .unwrap_or(0)
}

fn command_text(program: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
