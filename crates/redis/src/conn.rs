//! The command connection of a shard: one reconnecting multiplexed
//! connection to a Redis, or a cluster connection routing by slot.

use redis::aio::ConnectionManager;
use redis::cluster_async::ClusterConnection;
use redis::{FromRedisValue, RedisResult, ScriptInvocation};

/// Where a shard's commands go. Cheap to clone (shared connections).
#[derive(Clone)]
pub(crate) enum CmdConn {
    /// One Redis.
    Single(ConnectionManager),
    /// Redis Cluster.
    Cluster(ClusterConnection),
}

impl CmdConn {
    /// Runs a script (`EVALSHA`, loading it on `NOSCRIPT`).
    pub(crate) async fn script<T: FromRedisValue>(
        &self,
        inv: &ScriptInvocation<'_>,
    ) -> RedisResult<T> {
        match self {
            CmdConn::Single(c) => inv.invoke_async(&mut c.clone()).await,
            CmdConn::Cluster(c) => inv.invoke_async(&mut c.clone()).await,
        }
    }

    /// Runs a pipeline.
    pub(crate) async fn pipeline<T: FromRedisValue>(
        &self,
        pipe: &redis::Pipeline,
    ) -> RedisResult<T> {
        match self {
            CmdConn::Single(c) => pipe.query_async(&mut c.clone()).await,
            CmdConn::Cluster(c) => pipe.query_async(&mut c.clone()).await,
        }
    }

    /// Runs a command.
    pub(crate) async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> RedisResult<T> {
        match self {
            CmdConn::Single(c) => cmd.query_async(&mut c.clone()).await,
            CmdConn::Cluster(c) => cmd.query_async(&mut c.clone()).await,
        }
    }
}
