//! `TracedConnection<C>`: one CLIENT span per command, one per pipeline or transaction.
//!
//! Wraps any redis-rs connection and is one itself (`redis::aio::ConnectionLike` for async
//! connections: `MultiplexedConnection`, `ConnectionManager`, cluster-async
//! `ClusterConnection`, pooled connections; `redis::ConnectionLike` for the blocking
//! `redis::Connection`), so only the line that builds the connection changes.

use std::borrow::Cow;

use redis::{Arg, Cmd, RedisFuture, RedisResult, Value};
use redis_trace_commands::lookup_args;

use crate::config::Config;
use crate::endpoint::{Endpoint, ToEndpoint};
use crate::operation::{CommandSpec, Operation};
use crate::statement::sanitize;

/// A redis-rs connection that traces every command and pipeline it sends.
///
/// ```no_run
/// # async fn run() -> redis::RedisResult<()> {
/// use redis::AsyncCommands;
/// use redis_trace_core::TracedConnection;
///
/// let client = redis::Client::open("redis://127.0.0.1/")?;
/// let mut conn = TracedConnection::new(client.get_multiplexed_async_connection().await?)
///     .with_endpoint(&client);
/// let _: Option<String> = conn.get("user:1").await?; // span "GET 127.0.0.1:6379"
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct TracedConnection<C> {
    inner: C,
    endpoint: Option<Endpoint>,
    cluster: bool,
}

impl<C> TracedConnection<C> {
    /// Wraps `inner`. Spans carry the configured default endpoint unless
    /// [`TracedConnection::with_endpoint`] names one.
    pub fn new(inner: C) -> Self {
        Self {
            inner,
            endpoint: None,
            cluster: false,
        }
    }

    /// Records `endpoint` as `server.address`, `server.port` and `db.namespace`.
    #[must_use]
    pub fn with_endpoint(mut self, endpoint: impl ToEndpoint) -> Self {
        self.endpoint = Some(endpoint.to_endpoint());
        self
    }

    /// Marks a Redis Cluster connection: spans carry `redis.cluster.slot`, the hash slot of the
    /// command's keys (when they all map to one slot).
    #[must_use]
    pub fn for_cluster(mut self) -> Self {
        self.cluster = true;
        self
    }

    /// The wrapped connection.
    pub fn get_ref(&self) -> &C {
        &self.inner
    }

    /// The wrapped connection, mutably.
    pub fn get_mut(&mut self) -> &mut C {
        &mut self.inner
    }

    /// Unwraps the connection.
    pub fn into_inner(self) -> C {
        self.inner
    }

    fn command_spec(&self, args: &[&[u8]], config: &Config) -> CommandSpec {
        CommandSpec {
            operation: operation_name(args),
            statement: crate::intern::share(&statement(args, config)),
            batch_size: None,
            slot: self.cluster.then(|| common_slot([args])).flatten(),
            commands: Vec::new(),
        }
    }

    fn pipeline_spec(
        &self,
        commands: &[Vec<&[u8]>],
        transaction: bool,
        config: &Config,
    ) -> CommandSpec {
        let kind = if transaction { "MULTI" } else { "PIPELINE" };
        let names: Vec<Cow<'static, str>> =
            commands.iter().map(|args| operation_name(args)).collect();
        let operation = match names.first() {
            Some(first) if names.iter().all(|name| name == first) => {
                format!("{kind} {first}").into()
            }
            _ => Cow::Borrowed(kind),
        };
        let max_len = config.max_statement_length();
        let mut joined = String::new();
        for args in commands {
            if joined.len() >= max_len {
                break; // huge pipelines: stop sanitizing once the cap is reached
            }
            if !joined.is_empty() {
                joined.push_str("; ");
            }
            joined.push_str(&statement(args, config));
        }
        let per_command = if config.pipeline_command_spans() {
            names
                .into_iter()
                .zip(commands)
                .map(|(name, args)| (name, crate::intern::share(&statement(args, config))))
                .collect()
        } else {
            Vec::new()
        };
        CommandSpec {
            operation,
            statement: crate::intern::share(crate::outcome::truncate_on_char_boundary(
                &joined, max_len,
            )),
            batch_size: (commands.len() != 1).then_some(commands.len()),
            slot: self
                .cluster
                .then(|| common_slot(commands.iter().map(Vec::as_slice)))
                .flatten(),
            commands: per_command,
        }
    }
}

fn operation_name(args: &[&[u8]]) -> Cow<'static, str> {
    if let Some(command) = lookup_args(args) {
        return Cow::Borrowed(command.name);
    }
    match args.first().map(|name| String::from_utf8_lossy(name)) {
        Some(name) if !name.is_empty() && name.chars().all(|c| c.is_ascii_graphic()) => {
            Cow::Owned(name.to_ascii_uppercase())
        }
        _ => Cow::Borrowed("UNKNOWN"),
    }
}

fn statement(args: &[&[u8]], config: &Config) -> String {
    sanitize(
        args,
        config.key_policy(),
        config.max_key_length(),
        config.max_statement_length(),
    )
}

/// The cluster hash slot shared by every key of `commands`, if they share one.
fn common_slot<'a>(commands: impl IntoIterator<Item = &'a [&'a [u8]]>) -> Option<u16> {
    let mut slot = None;
    for args in commands {
        let Some(command) = lookup_args(args) else {
            continue;
        };
        for position in command.key_positions(args) {
            let key_slot = hash_slot(args[position]);
            match slot {
                None => slot = Some(key_slot),
                Some(existing) if existing != key_slot => return None,
                Some(_) => {}
            }
        }
    }
    slot
}

/// Redis Cluster's hash slot: CRC16 (XMODEM) of the key, or of its `{hash tag}`, mod 16384.
#[must_use]
pub fn hash_slot(key: &[u8]) -> u16 {
    let hashed = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            let close = rest.iter().position(|&b| b == b'}')?;
            (close > 0).then(|| &rest[..close])
        })
        .unwrap_or(key);
    crc16::State::<crc16::XMODEM>::calculate(hashed) % 16384
}

fn cmd_args(cmd: &Cmd) -> Vec<&[u8]> {
    cmd.args_iter()
        .map(|arg| match arg {
            Arg::Simple(bytes) => bytes,
            // A scan cursor, filled in by redis-rs: its value is not known here.
            _ => b"0".as_slice(),
        })
        .collect()
}

impl<C: redis::aio::ConnectionLike + Send> redis::aio::ConnectionLike for TracedConnection<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let mut operation = Operation::start_command(
            |config| self.command_spec(&cmd_args(cmd), config),
            self.endpoint.as_ref(),
        );
        let reply = self.inner.req_packed_command(cmd);
        Box::pin(async move {
            let result = operation.instrument(reply).await;
            operation.finish_replies(&result);
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let mut operation = Operation::start_command(
            |config| {
                let commands: Vec<Vec<&[u8]>> = pipeline.cmd_iter().map(cmd_args).collect();
                self.pipeline_spec(&commands, pipeline.is_transaction(), config)
            },
            self.endpoint.as_ref(),
        );
        let replies = self.inner.req_packed_commands(pipeline, offset, count);
        Box::pin(async move {
            let result = operation.instrument(replies).await;
            operation.finish_replies(&result);
            result
        })
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}

impl<C: redis::ConnectionLike> redis::ConnectionLike for TracedConnection<C> {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        let operation = Operation::start_command(
            |config| match crate::resp::parse_commands(cmd).as_slice() {
                [args] => self.command_spec(args, config),
                commands => self.pipeline_spec(commands, false, config),
            },
            self.endpoint.as_ref(),
        );
        let result = self.inner.req_packed_command(cmd);
        operation.finish_replies(&result);
        result
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        let operation = Operation::start_command(
            |config| {
                let commands = crate::resp::parse_commands(cmd);
                // A transaction is packed as MULTI, the commands, EXEC.
                match commands.as_slice() {
                    [first, inner @ .., last]
                        if is_named(first, b"MULTI") && is_named(last, b"EXEC") =>
                    {
                        self.pipeline_spec(inner, true, config)
                    }
                    all => self.pipeline_spec(all, false, config),
                }
            },
            self.endpoint.as_ref(),
        );
        let result = self.inner.req_packed_commands(cmd, offset, count);
        operation.finish_replies(&result);
        result
    }

    fn req_command(&mut self, cmd: &Cmd) -> RedisResult<Value> {
        let operation = Operation::start_command(
            |config| self.command_spec(&cmd_args(cmd), config),
            self.endpoint.as_ref(),
        );
        let result = self.inner.req_command(cmd);
        operation.finish_replies(&result);
        result
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }

    fn supports_pipelining(&self) -> bool {
        self.inner.supports_pipelining()
    }

    fn check_connection(&mut self) -> bool {
        self.inner.check_connection()
    }

    fn is_open(&self) -> bool {
        self.inner.is_open()
    }
}

/// Makes a pooled or borrowed async connection (anything that dereferences to one, such as
/// bb8's `PooledConnection` or `&mut MultiplexedConnection`) a `redis::aio::ConnectionLike`,
/// so it can be traced: `TracedConnection::new(Pooled(pool.get().await?))`.
#[derive(Debug)]
pub struct Pooled<P>(pub P);

impl<P> redis::aio::ConnectionLike for Pooled<P>
where
    P: std::ops::DerefMut + Send,
    P::Target: redis::aio::ConnectionLike + Send,
{
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        self.0.req_packed_command(cmd)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        self.0.req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.0.get_db()
    }
}

fn is_named(args: &[&[u8]], name: &[u8]) -> bool {
    args.first()
        .is_some_and(|first| first.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::hash_slot;

    #[test]
    fn hash_slots_follow_the_cluster_spec() {
        // Values from the Redis Cluster specification and `CLUSTER KEYSLOT`.
        assert_eq!(hash_slot(b"123456789"), 12739);
        assert_eq!(hash_slot(b"foo"), 12182);
        assert_eq!(hash_slot(b"{user1000}.following"), hash_slot(b"user1000"));
        assert_eq!(hash_slot(b"{foo}bar"), 12182);
        // An empty tag does not count: the whole key is hashed.
        assert_ne!(hash_slot(b"{}foo"), hash_slot(b"foo"));
    }
}
