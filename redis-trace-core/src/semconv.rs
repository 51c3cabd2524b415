//! The names redis-trace writes: attributes, metrics and its instrumentation scope.
//!
//! The stable database semantic conventions (v1.33+) are used. Standard names are the constants
//! of `opentelemetry-semantic-conventions` (schema 1.42.0, also the scope's schema URL); names
//! with no OpenTelemetry convention (cache hit/miss, keys, query-summary limits) are written here
//! and declared in redis-trace's Weaver registry (`semconv/` in the repository), which a test
//! compares with this file. These names are part of the public API: dashboards and tests can
//! rely on them.

use opentelemetry_semantic_conventions::{attribute, metric};

/// The instrumentation scope name of every span and metric redis-trace creates.
pub const SCOPE_NAME: &str = "redis-trace";

/// The instrumentation scope of redis-trace's tracer and meter.
pub(crate) fn scope() -> opentelemetry::InstrumentationScope {
    opentelemetry::InstrumentationScope::builder(SCOPE_NAME)
        .with_version(env!("CARGO_PKG_VERSION"))
        .with_schema_url(opentelemetry_semantic_conventions::SCHEMA_URL)
        .build()
}

/// `network.peer.address`: the node that served a command (a cluster's master for the slot,
/// the server a Sentinel named), when the configured target is several nodes.
pub const NETWORK_PEER_ADDRESS: &str = attribute::NETWORK_PEER_ADDRESS;
/// `network.peer.port`: that node's port.
pub const NETWORK_PEER_PORT: &str = attribute::NETWORK_PEER_PORT;

/// `db.client.operation.duration`: histogram of operation durations in seconds, the stable
/// database metric.
pub const DB_CLIENT_OPERATION_DURATION: &str = metric::DB_CLIENT_OPERATION_DURATION;
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
pub const DB_SYSTEM_NAME: &str = attribute::DB_SYSTEM_NAME;
/// The Redis command as given to the attribute (`GET`, `HSET`, ...).
pub const DB_OPERATION_NAME: &str = attribute::DB_OPERATION_NAME;
/// The database index as a string (`"0"`).
pub const DB_NAMESPACE: &str = attribute::DB_NAMESPACE;
/// The low-cardinality summary given with `name = "..."`.
pub const DB_QUERY_SUMMARY: &str = attribute::DB_QUERY_SUMMARY;
/// The Redis error prefix (`WRONGTYPE`, `ERR`, ...) when the server answered with an error.
pub const DB_RESPONSE_STATUS_CODE: &str = attribute::DB_RESPONSE_STATUS_CODE;
/// Logical host name (or unix socket path) of the Redis server.
pub const SERVER_ADDRESS: &str = attribute::SERVER_ADDRESS;
/// Port of the Redis server.
pub const SERVER_PORT: &str = attribute::SERVER_PORT;
/// Low-cardinality class of a failure: the Redis error prefix, `io`, `timeout`, `cancelled`,
/// `panic`, a Rust type name, or `_OTHER`.
pub const ERROR_TYPE: &str = attribute::ERROR_TYPE;
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
pub const CODE_FUNCTION_NAME: &str = attribute::CODE_FUNCTION_NAME;
/// The source file of the annotated function.
pub const CODE_FILE_PATH: &str = attribute::CODE_FILE_PATH;
/// The line of the annotated function's attribute.
pub const CODE_LINE_NUMBER: &str = attribute::CODE_LINE_NUMBER;

/// The key of a single-key call, rendered by the key policy (no OpenTelemetry convention).
pub const REDIS_KEY: &str = "redis.key";
/// The keys of a multi-key call (`keys = [...]`), rendered by the key policy.
pub const REDIS_KEYS: &str = "redis.keys";
/// The time to live given with `ttl = ...`, in seconds.
pub const REDIS_TTL: &str = "redis.ttl";
/// The hash slot (0..16383) of the command's keys on a Redis Cluster connection.
pub const REDIS_CLUSTER_SLOT: &str = "redis.cluster.slot";
/// The sanitized statement (Redis CLI form, values replaced by `?`).
pub const DB_QUERY_TEXT: &str = attribute::DB_QUERY_TEXT;
/// The script or function called: the SHA of `EVALSHA`/`EVALSHA_RO`, the function name of
/// `FCALL`/`FCALL_RO`.
pub const DB_STORED_PROCEDURE_NAME: &str = attribute::DB_STORED_PROCEDURE_NAME;
/// The number of commands of a pipeline or transaction (≥ 2, or 0 for an empty one).
pub const DB_OPERATION_BATCH_SIZE: &str = attribute::DB_OPERATION_BATCH_SIZE;

/// Connections of a pool by state (`db.client.connection.state`), an up-down counter.
pub const DB_CLIENT_CONNECTION_COUNT: &str = metric::DB_CLIENT_CONNECTION_COUNT;
/// The most connections a pool opens.
pub const DB_CLIENT_CONNECTION_MAX: &str = metric::DB_CLIENT_CONNECTION_MAX;
/// The most idle connections a pool keeps.
pub const DB_CLIENT_CONNECTION_IDLE_MAX: &str = metric::DB_CLIENT_CONNECTION_IDLE_MAX;
/// The fewest idle connections a pool keeps.
pub const DB_CLIENT_CONNECTION_IDLE_MIN: &str = metric::DB_CLIENT_CONNECTION_IDLE_MIN;
/// Callers waiting for a connection.
pub const DB_CLIENT_CONNECTION_PENDING_REQUESTS: &str =
    metric::DB_CLIENT_CONNECTION_PENDING_REQUESTS;
/// Waits for a connection that timed out, a counter.
pub const DB_CLIENT_CONNECTION_TIMEOUTS: &str = metric::DB_CLIENT_CONNECTION_TIMEOUTS;
/// Time to open a new connection (connect and handshake), a histogram in seconds.
pub const DB_CLIENT_CONNECTION_CREATE_TIME: &str = metric::DB_CLIENT_CONNECTION_CREATE_TIME;
/// Time to obtain a connection from the pool, a histogram in seconds.
pub const DB_CLIENT_CONNECTION_WAIT_TIME: &str = metric::DB_CLIENT_CONNECTION_WAIT_TIME;
/// Time between borrowing a connection and returning it, a histogram in seconds.
pub const DB_CLIENT_CONNECTION_USE_TIME: &str = metric::DB_CLIENT_CONNECTION_USE_TIME;
/// The pool's name: `address:port/db` unless set.
pub const DB_CLIENT_CONNECTION_POOL_NAME: &str = attribute::DB_CLIENT_CONNECTION_POOL_NAME;
/// `redis`, on messaging spans (a custom value: Redis is not in the well-known list).
pub const MESSAGING_SYSTEM: &str = attribute::MESSAGING_SYSTEM;
/// `send`, `receive`, `process` or `settle`.
pub const MESSAGING_OPERATION_TYPE: &str = attribute::MESSAGING_OPERATION_TYPE;
/// The command (`PUBLISH`, `XADD`, `XREADGROUP`, `XACK`) or `process`.
pub const MESSAGING_OPERATION_NAME: &str = attribute::MESSAGING_OPERATION_NAME;
/// The channel or stream, rendered by the key policy.
pub const MESSAGING_DESTINATION_NAME: &str = attribute::MESSAGING_DESTINATION_NAME;
/// The pattern a message matched (`PSUBSCRIBE`).
pub const MESSAGING_DESTINATION_TEMPLATE: &str = attribute::MESSAGING_DESTINATION_TEMPLATE;
/// A stream entry's id.
pub const MESSAGING_MESSAGE_ID: &str = attribute::MESSAGING_MESSAGE_ID;
/// The consumer group of `XREADGROUP` / `XACK`.
pub const MESSAGING_CONSUMER_GROUP_NAME: &str = attribute::MESSAGING_CONSUMER_GROUP_NAME;
/// Entries a receive returned.
pub const MESSAGING_BATCH_MESSAGE_COUNT: &str = attribute::MESSAGING_BATCH_MESSAGE_COUNT;
/// The payload's size in bytes (without redis-trace's envelope).
pub const MESSAGING_MESSAGE_BODY_SIZE: &str = attribute::MESSAGING_MESSAGE_BODY_SIZE;
/// Messages sent, a counter.
pub const MESSAGING_CLIENT_SENT_MESSAGES: &str = metric::MESSAGING_CLIENT_SENT_MESSAGES;
/// Messages delivered to a consumer, a counter.
pub const MESSAGING_CLIENT_CONSUMED_MESSAGES: &str = metric::MESSAGING_CLIENT_CONSUMED_MESSAGES;
/// Time a consumer spent processing a message, a histogram in seconds.
pub const MESSAGING_PROCESS_DURATION: &str = metric::MESSAGING_PROCESS_DURATION;
/// Duration of a send, receive or settle, a histogram in seconds.
pub const MESSAGING_CLIENT_OPERATION_DURATION: &str = metric::MESSAGING_CLIENT_OPERATION_DURATION;

/// Connections a `ConnectionManager` lost and replaced, a counter (no OpenTelemetry
/// convention exists); the first command on the new connection carries the span event
/// `redis_trace.reconnected`.
pub const REDIS_TRACE_CONNECTION_RECONNECTS: &str = "redis_trace.connection.reconnects";
/// `redis_trace.reconnected`: span event on the first command that succeeded after a
/// `ConnectionManager` replaced its lost connection.
pub const RECONNECTED: &str = "redis_trace.reconnected";
/// `redis_trace.script_not_cached`: span event on an `EVALSHA` the server answered `NOSCRIPT`,
/// the first step of the load-and-retry every client (redis-rs's `Script::invoke` included)
/// follows: that span is not an error, and records no duration point.
pub const SCRIPT_NOT_CACHED: &str = "redis_trace.script_not_cached";
/// `redis.client.stream.lag`: histogram of the time between a stream entry's creation (its id)
/// and its receipt by `XREAD` / `XREADGROUP`, in seconds (the name Redis Inc's clients use).
pub const REDIS_CLIENT_STREAM_LAG: &str = "redis.client.stream.lag";
/// `redis.stream.max_lag`: the largest lag, in seconds, of the entries a stream read returned,
/// on its receive span.
pub const REDIS_STREAM_MAX_LAG: &str = "redis.stream.max_lag";
/// `redis.client.csc.requests`: client-side cache lookups (redis-rs `cache-aio`) by
/// `redis.client.csc.result`, an observable counter (the name Redis Inc's clients use).
pub const REDIS_CLIENT_CSC_REQUESTS: &str = "redis.client.csc.requests";
/// `redis.client.csc.evictions`: entries the client-side cache dropped, on the server's
/// invalidation or to make room, an observable counter.
pub const REDIS_CLIENT_CSC_EVICTIONS: &str = "redis.client.csc.evictions";
/// `redis.client.csc.result`: `hit` (answered from the process's memory, Redis not reached)
/// or `miss` (sent to Redis), on the lookup counter, on the spans and the duration metric of
/// the commands that were looked up.
pub const REDIS_CLIENT_CSC_RESULT: &str = "redis.client.csc.result";
/// `idle` or `used`, on `db.client.connection.count`.
pub const DB_CLIENT_CONNECTION_STATE: &str = attribute::DB_CLIENT_CONNECTION_STATE;

/// Pre-stable names, written in the `Old` and `Both` modes.
pub mod old {
    // The crate marks them deprecated: they are written on purpose, in the old and dup modes.
    #![allow(deprecated)]

    use opentelemetry_semantic_conventions::attribute;

    /// Old name of `db.system.name`.
    pub const DB_SYSTEM: &str = attribute::DB_SYSTEM;
    /// Old name of `db.operation.name`.
    pub const DB_OPERATION: &str = attribute::DB_OPERATION;
    /// Old name of `db.query.text`.
    pub const DB_STATEMENT: &str = attribute::DB_STATEMENT;
    /// Old form of `db.namespace` for Redis: the database index as an integer.
    pub const DB_REDIS_DATABASE_INDEX: &str = attribute::DB_REDIS_DATABASE_INDEX;
    /// Old name of `server.address`.
    pub const NET_PEER_NAME: &str = attribute::NET_PEER_NAME;
    /// Old name of `server.port`.
    pub const NET_PEER_PORT: &str = attribute::NET_PEER_PORT;
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
        let literals: Vec<&str> = (code.lines())
            .filter_map(|line| line.trim().strip_prefix("pub const "))
            .filter_map(|declaration| declaration.split('"').nth(1))
            .filter(|name| name.contains('.'))
            .collect();
        for name in &literals {
            assert!(
                ours(name),
                "{name}: standard names come from opentelemetry-semantic-conventions"
            );
        }
        let written: std::collections::BTreeSet<&str> = literals.into_iter().collect();
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
        let declarations: Vec<&str> = (code.unwrap().lines())
            .filter_map(|line| line.trim().strip_prefix("pub const "))
            .collect();
        // Ours are literals; a standard one names its constant in the conventions crate, whose
        // first word is its namespace (`attribute::MESSAGING_SYSTEM` is `messaging.system`).
        let standard: Vec<String> = (declarations.iter())
            .filter_map(|declaration| declaration.split("attribute::").nth(1))
            .chain(
                declarations
                    .iter()
                    .filter_map(|d| d.split("metric::").nth(1)),
            )
            .map(|constant| constant.split('_').next().unwrap().to_ascii_lowercase() + ".")
            .collect();
        assert!(
            standard.len() > 40,
            "the scan finds the standard names: {standard:?}"
        );
        let names: Vec<&str> = (declarations.iter())
            .filter_map(|declaration| declaration.split('"').nth(1))
            .filter(|value| value.contains('.'))
            .chain(standard.iter().map(String::as_str))
            .collect();
        assert!(names.len() > 50, "the scan finds the names: {names:?}");
        for name in names {
            assert!(
                name.starts_with("redis_trace.")
                    || (RESERVED_ATTRIBUTE_NAMESPACES.iter()).any(|space| name.starts_with(space)),
                "{name} is written by redis-trace but not reserved from `fields(...)`"
            );
        }
    }
}
