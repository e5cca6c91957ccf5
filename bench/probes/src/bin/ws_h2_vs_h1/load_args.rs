//! The options of `load`.

use std::net::SocketAddr;
use std::time::Duration;

use crate::USAGE;

// ------------------------------------------------------------------ load

/// How one set's WebSockets reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Each on its own TCP connection, by HTTP/1.1 `Upgrade`.
    H1,
    /// As HTTP/2 streams over this many connections.
    H2 { connections: usize },
}

impl Transport {
    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "h1" => Ok(Transport::H1),
            _ => name
                .strip_prefix("h2x")
                .and_then(|c| c.parse().ok())
                .filter(|&c| c > 0)
                .map(|connections| Transport::H2 { connections })
                .ok_or(format!("a set is h1 or h2xC (C connections), not {name:?}")),
        }
    }

    pub fn name(self) -> String {
        match self {
            Transport::H1 => "h1".to_owned(),
            Transport::H2 { connections } => format!("h2x{connections}"),
        }
    }
}

/// The receive windows the HTTP/2 client announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// 6 MiB per stream, 15 MiB per connection (Chromium's values).
    Browser,
    /// The protocol default: 64 KiB - 1 for both.
    H2Default,
}

/// The options of `load`: see the usage message.
pub struct LoadArgs {
    /// The server.
    pub addr: SocketAddr,
    /// The sets of WebSockets, one per transport.
    pub sets: Vec<Transport>,
    /// WebSockets per set.
    pub sockets: usize,
    /// Bytes per message.
    pub size: usize,
    /// Unmeasured run of each set first.
    pub warmup: Duration,
    /// Measured time of each set.
    pub duration: Duration,
    /// Length of one turn.
    pub slice: Duration,
    /// The HTTP/2 client's receive windows.
    pub window: Window,
    /// The server process, for its CPU time.
    pub server_pid: Option<u32>,
}

impl LoadArgs {
    /// Parses the arguments after `load`.
    pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut load = LoadArgs {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            sets: vec![Transport::H1, Transport::H2 { connections: 1 }],
            sockets: 10,
            size: 20,
            warmup: Duration::from_millis(500),
            duration: Duration::from_millis(2000),
            slice: Duration::from_millis(250),
            window: Window::Browser,
            server_pid: None,
        };
        let mut addr = None;
        while let Some(arg) = args.next() {
            let value = args.next().ok_or(format!("{arg} needs a value"))?;
            let number = || value.parse::<u64>().map_err(|e| format!("{value:?}: {e}"));
            match arg.as_str() {
                "--addr" => addr = Some(value.parse().map_err(|e| format!("{value:?}: {e}"))?),
                "--sets" => {
                    load.sets = value
                        .split(',')
                        .map(Transport::parse)
                        .collect::<Result<_, _>>()?
                }
                "--sockets" => load.sockets = number()?.max(1) as usize,
                "--size" => load.size = number()? as usize,
                "--warmup-ms" => load.warmup = Duration::from_millis(number()?),
                "--duration-ms" => load.duration = Duration::from_millis(number()?),
                "--slice-ms" => load.slice = Duration::from_millis(number()?.max(1)),
                "--window" => {
                    load.window = match value.as_str() {
                        "browser" => Window::Browser,
                        "h2-default" => Window::H2Default,
                        _ => return Err(format!("--window browser|h2-default, not {value:?}")),
                    }
                }
                "--server-pid" => load.server_pid = Some(number()? as u32),
                _ => return Err(format!("unknown argument {arg:?}\n{USAGE}")),
            }
        }
        load.addr = addr.ok_or(format!("--addr is required\n{USAGE}"))?;
        Ok(load)
    }
}
