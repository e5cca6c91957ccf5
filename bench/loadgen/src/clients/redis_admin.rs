//! What the bench asks of a hub's `redis-server` directly, through
//! `redis-cli` (Debian's `redis-tools`, installed with `redis-server`): the
//! pub/sub connections it holds (`CLIENT LIST TYPE pubsub`) and killing one
//! (`CLIENT KILL ID`), to break one node's pub/sub connection as a network
//! failure or a Redis failover would.

use std::net::SocketAddr;
use std::process::Command;

use crate::error::BenchError;

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

/// Runs `redis-cli -h HOST -p PORT args…` and returns its output.
fn redis_cli(redis: SocketAddr, args: &[&str]) -> Result<String, BenchError> {
    let out = Command::new("redis-cli")
        .args([
            "-h",
            &redis.ip().to_string(),
            "-p",
            &redis.port().to_string(),
        ])
        .args(args)
        .output()
        .map_err(|e| BenchError::io("running redis-cli (apt-get install redis-tools)", e))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() || text.starts_with("ERR") {
        return Err(BenchError::Peer(format!(
            "redis-cli {}: {} {}",
            args.join(" "),
            text.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(text)
}

/// Every pub/sub connection of the Redis at `redis`.
pub fn pubsub_clients(redis: SocketAddr) -> Result<Vec<PubSubClient>, BenchError> {
    Ok(parse_client_list(&redis_cli(
        redis,
        &["CLIENT", "LIST", "TYPE", "pubsub"],
    )?))
}

/// Kills the connection with client id `id`.
pub fn kill_client(redis: SocketAddr, id: u64) -> Result<(), BenchError> {
    let answer = redis_cli(redis, &["CLIENT", "KILL", "ID", &id.to_string()])?;
    if answer.trim() != "1" {
        return Err(BenchError::Peer(format!(
            "CLIENT KILL ID {id} killed {} connections",
            answer.trim()
        )));
    }
    Ok(())
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
