//! The command line.

use std::time::Duration;

/// What to measure and how.
pub struct Args {
    /// The `pushwire` binary to start as the server.
    pub server_bin: String,
    /// Idle connections to open.
    pub connections: usize,
    /// The client offers permessage-deflate.
    pub deflate: bool,
    /// Also print the figures as one JSON line.
    pub json: bool,
    /// Connections opening (or echoing) at once.
    pub concurrency: usize,
    /// Connections per client address.
    pub per_ip: usize,
    /// Wait before each RSS reading.
    pub settle: Duration,
    /// Each connection echoes one message after the idle reading.
    pub echo: bool,
    /// Bytes of that message.
    pub payload: usize,
    /// The whole run fails after this long.
    pub deadline: Duration,
    /// Keep the connections open this long at the end (to inspect the server).
    pub hold: Duration,
    /// Environment variables of the server only.
    pub child_env: Vec<(String, String)>,
    /// Extra arguments of `pushwire echo`.
    pub server_args: Vec<String>,
    /// Print the sizes of the types an idle connection is made of.
    pub sizes: bool,
}

/// The usage message.
pub const USAGE: &str =
    "usage: idle_memory --server-bin PATH [--connections N] [--deflate] [--json]
  [--concurrency C=200] [--per-ip K=1000] [--settle-ms MS=2000] [--no-echo]
  [--payload BYTES=64] [--deadline-secs S=55] [--hold-secs S=0]
  [--child-env KEY=VALUE]... [--server-arg ARG]... [--sizes]";

/// The arguments of this process, checked.
pub fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        server_bin: String::new(),
        connections: 1000,
        deflate: false,
        json: false,
        concurrency: 200,
        per_ip: 1000,
        settle: Duration::from_millis(2000),
        echo: true,
        payload: 64,
        deadline: Duration::from_secs(55),
        hold: Duration::ZERO,
        child_env: Vec::new(),
        server_args: Vec::new(),
        sizes: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        let number = |s: String| s.parse::<u64>().map_err(|e| format!("{s:?}: {e}"));
        match arg.as_str() {
            "--server-bin" => args.server_bin = value(&arg)?,
            "--connections" => args.connections = number(value(&arg)?)? as usize,
            "--deflate" => args.deflate = true,
            "--json" => args.json = true,
            "--concurrency" => args.concurrency = number(value(&arg)?)?.max(1) as usize,
            "--per-ip" => args.per_ip = number(value(&arg)?)?.max(1) as usize,
            "--settle-ms" => args.settle = Duration::from_millis(number(value(&arg)?)?),
            "--no-echo" => args.echo = false,
            "--payload" => args.payload = number(value(&arg)?)? as usize,
            "--deadline-secs" => args.deadline = Duration::from_secs(number(value(&arg)?)?),
            "--hold-secs" => args.hold = Duration::from_secs(number(value(&arg)?)?),
            "--child-env" => {
                let kv = value(&arg)?;
                let (k, v) = kv
                    .split_once('=')
                    .ok_or(format!("{kv:?}: want KEY=VALUE"))?;
                args.child_env.push((k.to_owned(), v.to_owned()));
            }
            "--server-arg" => args.server_args.push(value(&arg)?),
            "--sizes" => args.sizes = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if args.server_bin.is_empty() && !args.sizes {
        return Err(format!("--server-bin is required\n{USAGE}"));
    }
    // Ports 127.0.0.2 .. 127.0.0.254.
    if args.connections.div_ceil(args.per_ip) > 253 {
        return Err("too many connections for --per-ip: raise it".to_owned());
    }
    Ok(args)
}
