//! `pushwire-drills`: load and fault drills for pushwire's hub (issue 22).
//!
//! ```text
//! pushwire-drills <slow|dead|restart|slowloris|soak> [--key value …]
//! ```
//!
//! Each drill starts its own `pushwire serve` (`$DRILLS_PUSHWIRE`, pinned
//! to `$DRILLS_SERVER_CPU`, default 0) and, for the Redis variants, its
//! own `redis-server`, on free loopback ports; prints its figures and its
//! checks; and exits non-zero when a check failed. Files go to
//! `$DRILLS_TMP`. See `tests/drills/run.sh` for the quick and full sizes.

mod dead;
mod http;
mod hub;
mod publisher;
mod restart;
mod server;
mod slow;
mod slowloris;
mod soak;
mod stats;
mod ws;

use std::collections::HashMap;

/// `--key value` options.
pub struct Args(HashMap<String, String>);

impl Args {
    fn parse(items: &[String]) -> Result<Args, String> {
        let mut map = HashMap::new();
        let mut it = items.iter();
        while let Some(k) = it.next() {
            let key = k
                .strip_prefix("--")
                .ok_or_else(|| format!("expected --key, got {k:?}"))?;
            let v = it.next().ok_or_else(|| format!("--{key} needs a value"))?;
            map.insert(key.to_owned(), v.clone());
        }
        Ok(Args(map))
    }

    /// A string option.
    pub fn str(&self, k: &str, default: &str) -> String {
        self.0.get(k).cloned().unwrap_or_else(|| default.to_owned())
    }

    /// A count option.
    pub fn usize(&self, k: &str, default: usize) -> usize {
        self.0
            .get(k)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    /// An integer option.
    pub fn u64(&self, k: &str, default: u64) -> u64 {
        self.0
            .get(k)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    /// A number option.
    pub fn f64(&self, k: &str, default: f64) -> f64 {
        self.0
            .get(k)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some(drill) = argv.first().cloned() else {
        eprintln!("usage: pushwire-drills <slow|dead|restart|slowloris|soak> [--key value …]");
        std::process::exit(2);
    };
    let args = match Args::parse(&argv[1..]) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("pushwire-drills: {e}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.usize("threads", 1))
        .enable_all()
        .build()
        .expect("a tokio runtime");
    hub::now_us();
    let ok = runtime.block_on(async {
        match drill.as_str() {
            "slow" => slow::run(&args).await,
            "dead" => dead::run(&args).await,
            "restart" => restart::run(&args).await,
            "slowloris" => slowloris::run(&args).await,
            "soak" => soak::run(&args).await,
            other => {
                eprintln!("pushwire-drills: no drill {other:?}");
                false
            }
        }
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    std::process::exit(if ok { 0 } else { 1 });
}
