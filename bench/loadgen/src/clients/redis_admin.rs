//! What the bench asks of a hub's `redis-server` directly: the pub/sub
//! connections it holds (`CLIENT LIST TYPE pubsub`) and killing one
//! (`CLIENT KILL ID`), to break one node's pub/sub connection as a network
//! failure or a Redis failover would. Two commands over one blocking
//! connection, written out in RESP here rather than through a Redis client
//! crate (the generator has no async runtime) or `redis-cli` (a process
//! start, ~40 ms, inside the timed moment of the break).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::error::BenchError;

/// How long a command may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// A pub/sub connection Redis holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubSubClient {
    /// Redis's client id.
    pub id: u64,
    /// The client's port (its address is loopback).
    pub port: u16,
    /// Channels it is subscribed to (`sub=`).
    pub channels: u64,
}

/// A reply of Redis.
#[derive(Debug, PartialEq, Eq)]
enum Reply {
    Text(String),
    Integer(i64),
}

/// A connection to a Redis for admin commands.
pub struct RedisAdmin {
    reader: BufReader<TcpStream>,
    addr: SocketAddr,
}

impl RedisAdmin {
    /// Connects to the Redis at `addr`.
    pub fn connect(addr: SocketAddr) -> Result<Self, BenchError> {
        let what = |e| BenchError::io(format!("connecting to Redis at {addr}"), e);
        let stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(what)?;
        stream.set_read_timeout(Some(TIMEOUT)).map_err(what)?;
        stream.set_nodelay(true).map_err(what)?;
        Ok(RedisAdmin {
            reader: BufReader::new(stream),
            addr,
        })
    }

    /// Every pub/sub connection of the Redis.
    pub fn pubsub_clients(&mut self) -> Result<Vec<PubSubClient>, BenchError> {
        match self.command(&["CLIENT", "LIST", "TYPE", "pubsub"])? {
            Reply::Text(text) => Ok(parse_client_list(&text)),
            other => Err(BenchError::Peer(format!("CLIENT LIST answered {other:?}"))),
        }
    }

    /// Kills the connection with client id `id`.
    pub fn kill_client(&mut self, id: u64) -> Result<(), BenchError> {
        match self.command(&["CLIENT", "KILL", "ID", &id.to_string()])? {
            Reply::Integer(1) => Ok(()),
            other => Err(BenchError::Peer(format!(
                "CLIENT KILL ID {id} answered {other:?}"
            ))),
        }
    }

    /// Sends one command (an array of bulk strings) and reads its reply.
    fn command(&mut self, args: &[&str]) -> Result<Reply, BenchError> {
        let what = |e| BenchError::io(format!("{} to Redis at {}", args.join(" "), self.addr), e);
        self.reader
            .get_mut()
            .write_all(&encode(args))
            .map_err(what)?;
        let mut line = String::new();
        self.reader.read_line(&mut line).map_err(what)?;
        let line = line.trim_end();
        let (kind, rest) = line.split_at(line.len().min(1));
        let bad = || BenchError::Peer(format!("Redis answered {line:?} to {}", args.join(" ")));
        match kind {
            "+" => Ok(Reply::Text(rest.to_owned())),
            ":" => rest.parse().map(Reply::Integer).map_err(|_| bad()),
            "$" => {
                let len: usize = rest.parse().map_err(|_| bad())?;
                let mut body = vec![0; len + 2];
                self.reader.read_exact(&mut body).map_err(what)?;
                body.truncate(len);
                Ok(Reply::Text(String::from_utf8_lossy(&body).into_owned()))
            }
            _ => Err(bad()),
        }
    }
}

/// A command as RESP: an array of bulk strings.
fn encode(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
    out
}

/// The lines of `CLIENT LIST`: `id=5 addr=127.0.0.1:40154 … sub=3 …`.
fn parse_client_list(text: &str) -> Vec<PubSubClient> {
    text.lines()
        .filter_map(|line| {
            let field = |name: &str| {
                line.split_whitespace()
                    .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            };
            Some(PubSubClient {
                id: field("id")?.parse().ok()?,
                port: field("addr")?.rsplit(':').next()?.parse().ok()?,
                channels: field("sub").and_then(|s| s.parse().ok()).unwrap_or(0),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_arrays_of_bulk_strings() {
        assert_eq!(
            encode(&["CLIENT", "KILL", "ID", "7"]),
            b"*4\r\n$6\r\nCLIENT\r\n$4\r\nKILL\r\n$2\r\nID\r\n$1\r\n7\r\n"
        );
    }

    #[test]
    fn client_list_lines_give_id_port_and_channels() {
        let text = "id=7 addr=127.0.0.1:40154 laddr=127.0.0.1:6390 fd=9 name= age=3 idle=0 \
                    flags=P db=0 sub=1002 psub=0 ssub=0 multi=-1 cmd=subscribe\n\
                    id=9 addr=127.0.0.1:40160 laddr=127.0.0.1:6390 fd=11 sub=2\n";
        assert_eq!(
            parse_client_list(text),
            vec![
                PubSubClient {
                    id: 7,
                    port: 40154,
                    channels: 1002
                },
                PubSubClient {
                    id: 9,
                    port: 40160,
                    channels: 2
                },
            ]
        );
    }
}
