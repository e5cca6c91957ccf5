//! The options of both subcommands.

use std::net::SocketAddr;
use std::time::Duration;

use crate::USAGE;

/// Options of both subcommands.
pub struct Options {
    /// `server`: where to listen.
    pub listen: String,
    /// `server`: the heartbeat interval of every stream.
    pub heartbeat: Duration,
    /// `server`: what feeds each stream.
    pub source: Source,
    /// `client`: the server.
    pub addr: Option<SocketAddr>,
    /// `client`: event streams to open.
    pub streams: usize,
    /// `client`: over HTTP/2 (h2c by prior knowledge) instead of HTTP/1.1.
    pub http2: bool,
    /// `client`: streams per HTTP/2 connection.
    pub streams_per_connection: usize,
    /// `client`: connections per client address.
    pub per_ip: usize,
    /// `client`: streams opening at once.
    pub concurrency: usize,
}

/// What feeds each event stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// [`Sse::channel`], its sender kept in a registry.
    Channel,
    /// A stream that never yields.
    Pending,
}

impl Options {
    /// Parses the arguments after the subcommand.
    pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut options = Options {
            listen: "127.0.0.1:0".to_owned(),
            heartbeat: Duration::from_secs(15),
            source: Source::Channel,
            addr: None,
            streams: 1000,
            http2: false,
            streams_per_connection: 100,
            per_ip: 1000,
            concurrency: 200,
        };
        while let Some(arg) = args.next() {
            let value = args.next().ok_or(format!("{arg} needs a value"))?;
            let number = || value.parse::<u64>().map_err(|e| format!("{value:?}: {e}"));
            match arg.as_str() {
                "--listen" => options.listen = value.clone(),
                "--heartbeat-secs" => options.heartbeat = Duration::from_secs(number()?),
                "--source" => {
                    options.source = match value.as_str() {
                        "channel" => Source::Channel,
                        "pending" => Source::Pending,
                        _ => return Err(format!("--source channel|pending, not {value:?}")),
                    }
                }
                "--addr" => {
                    options.addr = Some(value.parse().map_err(|e| format!("{value:?}: {e}"))?)
                }
                "--streams" => options.streams = number()? as usize,
                "--http" => {
                    options.http2 = match value.as_str() {
                        "h1" => false,
                        "h2" => true,
                        _ => return Err(format!("--http h1|h2, not {value:?}")),
                    }
                }
                "--streams-per-connection" => {
                    options.streams_per_connection = number()?.max(1) as usize
                }
                "--per-ip" => options.per_ip = number()?.max(1) as usize,
                "--concurrency" => options.concurrency = number()?.max(1) as usize,
                _ => return Err(format!("unknown argument {arg:?}\n{USAGE}")),
            }
        }
        Ok(options)
    }
}
