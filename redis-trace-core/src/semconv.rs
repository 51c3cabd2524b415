//! The names redis-trace writes: attributes, metrics and its instrumentation scope.
//!
//! The stable database semantic conventions (v1.33+) are used. Names with no OpenTelemetry
//! convention (cache hit/miss, keys, cancellation) are documented here. These names are part of
//! the public API: dashboards and tests can rely on them.

/// The instrumentation scope name of every span and metric redis-trace creates.
pub const SCOPE_NAME: &str = "redis-trace";

/// The instrumentation scope of redis-trace's tracer and meter.
pub(crate) fn scope() -> opentelemetry::InstrumentationScope {
    opentelemetry::InstrumentationScope::builder(SCOPE_NAME)
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

/// `db.client.operation.duration`: histogram of operation durations in seconds, the stable
/// database metric.
pub const DB_CLIENT_OPERATION_DURATION: &str = "db.client.operation.duration";
/// `redis_trace.cache.requests`: counter of calls whose result says hit or miss, with
/// `cache.hit`.
pub const CACHE_REQUESTS: &str = "redis_trace.cache.requests";
/// `redis_trace.query_summary.overflows`: counter of traced-connection commands whose
/// `db.query.summary` fell back to the operation name because the configured limit of distinct
/// summaries was reached.
pub const QUERY_SUMMARY_OVERFLOWS: &str = "redis_trace.query_summary.overflows";
/// `redis_trace.query_summary.limit_reached`: span event on the first command whose summary fell
/// back to the operation name, with `redis_trace.query_summary.limit`.
pub const QUERY_SUMMARY_LIMIT_REACHED: &str = "redis_trace.query_summary.limit_reached";
/// `redis_trace.query_summary.limit`: the configured limit of distinct summaries.
pub const QUERY_SUMMARY_LIMIT: &str = "redis_trace.query_summary.limit";

/// `"redis"`, set at span creation.
pub const DB_SYSTEM_NAME: &str = "db.system.name";
/// The Redis command as given to the attribute (`GET`, `HSET`, ...).
pub const DB_OPERATION_NAME: &str = "db.operation.name";
/// The database index as a string (`"0"`).
pub const DB_NAMESPACE: &str = "db.namespace";
/// The low-cardinality summary given with `name = "..."`.
pub const DB_QUERY_SUMMARY: &str = "db.query.summary";
/// The Redis error prefix (`WRONGTYPE`, `ERR`, ...) when the server answered with an error.
pub const DB_RESPONSE_STATUS_CODE: &str = "db.response.status_code";
/// Logical host name (or unix socket path) of the Redis server.
pub const SERVER_ADDRESS: &str = "server.address";
/// Port of the Redis server.
pub const SERVER_PORT: &str = "server.port";
/// Low-cardinality class of a failure: the Redis error prefix, `io`, `timeout`, `cancelled`,
/// `panic`, a Rust type name, or `_OTHER`.
pub const ERROR_TYPE: &str = "error.type";
/// `true` when a read found its value, `false` on a miss (no OpenTelemetry convention exists;
/// this is the name Sentry's cache module uses).
pub const CACHE_HIT: &str = "cache.hit";

/// How many of a multi-key lookup's keys (`MGET`, `HMGET`, `Vec<Option<T>>` or a tuple of
/// options) found a value.
pub const CACHE_HIT_COUNT: &str = "cache.hit_count";
/// How many of a multi-key lookup's keys found nothing.
pub const CACHE_MISS_COUNT: &str = "cache.miss_count";
/// Whether a conditional write applied (`SET .. NX`/`XX`, `SETNX`, `HSETNX`, `EXPIRE`, ...): a
/// lock taken or not. Recorded instead of `cache.hit`: a write is not a cache lookup.
pub const REDIS_APPLIED: &str = "redis.applied";

/// The value of `db.system.name`.
pub const REDIS: &str = "redis";
/// The value of `error.type` for an operation whose future was dropped before it completed.
pub const CANCELLED: &str = "cancelled";
/// The value of `error.type` for an operation whose body panicked.
pub const PANIC: &str = "panic";
/// The value of `error.type` for I/O failures (refused, dropped, reset connections).
pub const IO: &str = "io";
/// The value of `error.type` for timed-out I/O.
pub const TIMEOUT: &str = "timeout";
/// The value of `error.type` when nothing more specific is known.
pub const OTHER: &str = "_OTHER";
/// The annotated function's path, `module::function`.
pub const CODE_FUNCTION_NAME: &str = "code.function.name";
/// The source file of the annotated function.
pub const CODE_FILE_PATH: &str = "code.file.path";
/// The line of the annotated function's attribute.
pub const CODE_LINE_NUMBER: &str = "code.line.number";

/// The key of a single-key call, rendered by the key policy (no OpenTelemetry convention).
pub const REDIS_KEY: &str = "redis.key";
/// The keys of a multi-key call (`keys = [...]`), rendered by the key policy.
pub const REDIS_KEYS: &str = "redis.keys";
/// The time to live given with `ttl = ...`, in seconds.
pub const REDIS_TTL: &str = "redis.ttl";
/// The hash slot (0..16383) of the command's keys on a Redis Cluster connection.
pub const REDIS_CLUSTER_SLOT: &str = "redis.cluster.slot";
/// The sanitized statement (Redis CLI form, values replaced by `?`).
pub const DB_QUERY_TEXT: &str = "db.query.text";
/// The script or function called: the SHA of `EVALSHA`/`EVALSHA_RO`, the function name of
/// `FCALL`/`FCALL_RO`.
pub const DB_STORED_PROCEDURE_NAME: &str = "db.stored_procedure.name";
/// The number of commands of a pipeline or transaction (≥ 2, or 0 for an empty one).
pub const DB_OPERATION_BATCH_SIZE: &str = "db.operation.batch.size";

/// Connections of a pool by state (`db.client.connection.state`), an up-down counter.
pub const DB_CLIENT_CONNECTION_COUNT: &str = "db.client.connection.count";
/// The most connections a pool opens.
pub const DB_CLIENT_CONNECTION_MAX: &str = "db.client.connection.max";
/// The most idle connections a pool keeps.
pub const DB_CLIENT_CONNECTION_IDLE_MAX: &str = "db.client.connection.idle.max";
/// The fewest idle connections a pool keeps.
pub const DB_CLIENT_CONNECTION_IDLE_MIN: &str = "db.client.connection.idle.min";
/// Callers waiting for a connection.
pub const DB_CLIENT_CONNECTION_PENDING_REQUESTS: &str = "db.client.connection.pending_requests";
/// Waits for a connection that timed out, a counter.
pub const DB_CLIENT_CONNECTION_TIMEOUTS: &str = "db.client.connection.timeouts";
/// Time to open a new connection (connect and handshake), a histogram in seconds.
pub const DB_CLIENT_CONNECTION_CREATE_TIME: &str = "db.client.connection.create_time";
/// Time to obtain a connection from the pool, a histogram in seconds.
pub const DB_CLIENT_CONNECTION_WAIT_TIME: &str = "db.client.connection.wait_time";
/// Time between borrowing a connection and returning it, a histogram in seconds.
pub const DB_CLIENT_CONNECTION_USE_TIME: &str = "db.client.connection.use_time";
/// The pool's name: `address:port/db` unless set.
pub const DB_CLIENT_CONNECTION_POOL_NAME: &str = "db.client.connection.pool.name";
/// `redis`, on messaging spans (a custom value: Redis is not in the well-known list).
pub const MESSAGING_SYSTEM: &str = "messaging.system";
/// `send`, `receive`, `process` or `settle`.
pub const MESSAGING_OPERATION_TYPE: &str = "messaging.operation.type";
/// The command (`PUBLISH`, `XADD`, `XREADGROUP`, `XACK`) or `process`.
pub const MESSAGING_OPERATION_NAME: &str = "messaging.operation.name";
/// The channel or stream, rendered by the key policy.
pub const MESSAGING_DESTINATION_NAME: &str = "messaging.destination.name";
/// The pattern a message matched (`PSUBSCRIBE`).
pub const MESSAGING_DESTINATION_TEMPLATE: &str = "messaging.destination.template";
/// A stream entry's id.
pub const MESSAGING_MESSAGE_ID: &str = "messaging.message.id";
/// The consumer group of `XREADGROUP` / `XACK`.
pub const MESSAGING_CONSUMER_GROUP_NAME: &str = "messaging.consumer.group.name";
/// Entries a receive returned.
pub const MESSAGING_BATCH_MESSAGE_COUNT: &str = "messaging.batch.message_count";
/// The payload's size in bytes (without redis-trace's envelope).
pub const MESSAGING_MESSAGE_BODY_SIZE: &str = "messaging.message.body.size";
/// Messages sent, a counter.
pub const MESSAGING_CLIENT_SENT_MESSAGES: &str = "messaging.client.sent.messages";
/// Messages delivered to a consumer, a counter.
pub const MESSAGING_CLIENT_CONSUMED_MESSAGES: &str = "messaging.client.consumed.messages";
/// Time a consumer spent processing a message, a histogram in seconds.
pub const MESSAGING_PROCESS_DURATION: &str = "messaging.process.duration";
/// Duration of a send, receive or settle, a histogram in seconds.
pub const MESSAGING_CLIENT_OPERATION_DURATION: &str = "messaging.client.operation.duration";

/// Connections a `ConnectionManager` lost and replaced, a counter (no OpenTelemetry
/// convention exists); the first command on the new connection carries the span event
/// `redis_trace.reconnected`.
pub const REDIS_TRACE_CONNECTION_RECONNECTS: &str = "redis_trace.connection.reconnects";
/// `idle` or `used`, on `db.client.connection.count`.
pub const DB_CLIENT_CONNECTION_STATE: &str = "db.client.connection.state";

/// Pre-stable names, written in the `Old` and `Both` modes.
pub mod old {
    /// Old name of `db.system.name`.
    pub const DB_SYSTEM: &str = "db.system";
    /// Old name of `db.operation.name`.
    pub const DB_OPERATION: &str = "db.operation";
    /// Old name of `db.query.text`.
    pub const DB_STATEMENT: &str = "db.statement";
    /// Old form of `db.namespace` for Redis: the database index as an integer.
    pub const DB_REDIS_DATABASE_INDEX: &str = "db.redis.database_index";
    /// Old name of `server.address`.
    pub const NET_PEER_NAME: &str = "net.peer.name";
    /// Old name of `server.port`.
    pub const NET_PEER_PORT: &str = "net.peer.port";
}

#[cfg(test)]
mod tests {
    use redis_trace_commands::RESERVED_ATTRIBUTE_NAMESPACES;

    /// Every name of ours (`redis.*`, `cache.*`, `redis_trace.*`) is declared in our Weaver
    /// registry (`semconv/` at the repository root; `weaver registry check` validates it against
    /// OpenTelemetry's in CI), and the registry declares nothing we do not write.
    #[test]
    fn our_names_and_our_registry_agree() {
        let ours = |name: &str| {
            ["redis.", "cache.", "redis_trace."]
                .iter()
                .any(|p| name.starts_with(p))
        };
        let code = include_str!("semconv.rs")
            .split("#[cfg(test)]")
            .next()
            .unwrap();
        let written: std::collections::BTreeSet<&str> = (code.lines())
            .filter_map(|line| line.trim().strip_prefix("pub const "))
            .filter_map(|declaration| declaration.split('"').nth(1))
            .filter(|name| ours(name))
            .collect();
        let registry = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../semconv");
        let mut declared = std::collections::BTreeSet::new();
        for file in ["attributes.yaml", "metrics.yaml", "events.yaml"] {
            let text = std::fs::read_to_string(registry.join(file)).unwrap();
            for line in text.lines().map(str::trim) {
                let name = ["- id: ", "metric_name: ", "name: "]
                    .iter()
                    .find_map(|key| line.strip_prefix(key));
                if let Some(name) = name.filter(|name| ours(name)) {
                    declared.insert(name.to_owned());
                }
            }
        }
        let declared: std::collections::BTreeSet<&str> =
            declared.iter().map(String::as_str).collect();
        assert!(written.len() >= 10, "the scan finds our names: {written:?}");
        assert_eq!(written, declared, "semconv.rs and semconv/*.yaml disagree");
    }

    /// Every name written here is in a namespace the attribute's `fields(...)` may not use, or
    /// is one of redis-trace's own metrics (`redis_trace.`): the macro's list and the names
    /// the runtime writes cannot drift apart.
    #[test]
    fn every_name_written_is_reserved_from_fields() {
        let code = include_str!("semconv.rs").split("#[cfg(test)]").next();
        let names: Vec<&str> = (code.unwrap().lines())
            .filter_map(|line| line.trim().strip_prefix("pub const "))
            .filter_map(|declaration| declaration.split('"').nth(1))
            .filter(|value| value.contains('.'))
            .collect();
        assert!(names.len() > 40, "the scan finds the names: {names:?}");
        for name in names {
            assert!(
                name.starts_with("redis_trace.")
                    || (RESERVED_ATTRIBUTE_NAMESPACES.iter()).any(|space| name.starts_with(space)),
                "{name} is written by redis-trace but not reserved from `fields(...)`"
            );
        }
    }
}
