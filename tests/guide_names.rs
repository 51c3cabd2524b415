//! The guide names what redis-trace writes, and nothing else: every attribute, metric and event
//! name in `docs/guide.md` (a dotted name in backquotes) is one of `redis_trace::semconv`, and
//! every name of ours (`cache.*`, `redis.*`, `redis_trace.*`) is in the guide. The code and our
//! registry are compared by the core's tests; with this, docs, code and registry cannot drift.

use std::collections::BTreeSet;

use redis_trace::semconv;

/// Every name `redis_trace::semconv` exports (a test below checks the list is complete).
const WRITTEN: &[&str] = &[
    semconv::NETWORK_PEER_ADDRESS,
    semconv::NETWORK_PEER_PORT,
    semconv::DB_CLIENT_OPERATION_DURATION,
    semconv::CACHE_REQUESTS,
    semconv::QUERY_SUMMARY_OVERFLOWS,
    semconv::QUERY_SUMMARY_LIMIT_REACHED,
    semconv::QUERY_SUMMARY_LIMIT,
    semconv::DB_SYSTEM_NAME,
    semconv::DB_OPERATION_NAME,
    semconv::DB_NAMESPACE,
    semconv::DB_QUERY_SUMMARY,
    semconv::DB_RESPONSE_STATUS_CODE,
    semconv::SERVER_ADDRESS,
    semconv::SERVER_PORT,
    semconv::ERROR_TYPE,
    semconv::CACHE_HIT,
    semconv::CACHE_HIT_COUNT,
    semconv::CACHE_MISS_COUNT,
    semconv::REDIS_APPLIED,
    semconv::CODE_FUNCTION_NAME,
    semconv::CODE_FILE_PATH,
    semconv::CODE_LINE_NUMBER,
    semconv::REDIS_KEY,
    semconv::REDIS_KEYS,
    semconv::REDIS_TTL,
    semconv::REDIS_CLUSTER_SLOT,
    semconv::REDIS_CLIENT_CSC_REQUESTS,
    semconv::REDIS_CLIENT_CSC_EVICTIONS,
    semconv::REDIS_CLIENT_CSC_RESULT,
    semconv::DB_QUERY_TEXT,
    semconv::DB_STORED_PROCEDURE_NAME,
    semconv::DB_OPERATION_BATCH_SIZE,
    semconv::DB_CLIENT_CONNECTION_COUNT,
    semconv::DB_CLIENT_CONNECTION_MAX,
    semconv::DB_CLIENT_CONNECTION_IDLE_MAX,
    semconv::DB_CLIENT_CONNECTION_IDLE_MIN,
    semconv::DB_CLIENT_CONNECTION_PENDING_REQUESTS,
    semconv::DB_CLIENT_CONNECTION_TIMEOUTS,
    semconv::DB_CLIENT_CONNECTION_CREATE_TIME,
    semconv::DB_CLIENT_CONNECTION_WAIT_TIME,
    semconv::DB_CLIENT_CONNECTION_USE_TIME,
    semconv::DB_CLIENT_CONNECTION_POOL_NAME,
    semconv::MESSAGING_SYSTEM,
    semconv::MESSAGING_OPERATION_TYPE,
    semconv::MESSAGING_OPERATION_NAME,
    semconv::MESSAGING_DESTINATION_NAME,
    semconv::MESSAGING_DESTINATION_TEMPLATE,
    semconv::MESSAGING_MESSAGE_ID,
    semconv::MESSAGING_CONSUMER_GROUP_NAME,
    semconv::MESSAGING_BATCH_MESSAGE_COUNT,
    semconv::MESSAGING_MESSAGE_BODY_SIZE,
    semconv::MESSAGING_CLIENT_SENT_MESSAGES,
    semconv::MESSAGING_CLIENT_CONSUMED_MESSAGES,
    semconv::MESSAGING_PROCESS_DURATION,
    semconv::MESSAGING_CLIENT_OPERATION_DURATION,
    semconv::REDIS_TRACE_CONNECTION_RECONNECTS,
    semconv::RECONNECTED,
    semconv::SCRIPT_NOT_CACHED,
    semconv::REDIS_CLIENT_STREAM_LAG,
    semconv::REDIS_STREAM_MAX_LAG,
    semconv::DB_CLIENT_CONNECTION_STATE,
    semconv::old::DB_SYSTEM,
    semconv::old::DB_OPERATION,
    semconv::old::DB_STATEMENT,
    semconv::old::DB_REDIS_DATABASE_INDEX,
    semconv::old::NET_PEER_NAME,
    semconv::old::NET_PEER_PORT,
];

/// Dotted lower-case names in backquotes: `db.query.summary`, `redis_trace.cache.requests`.
fn names_in(text: &str) -> BTreeSet<&str> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|quoted| {
            quoted.contains('.')
                && !quoted.starts_with('.')
                && !quoted.ends_with('.')
                && quoted
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_')
        })
        .collect()
}

fn guide() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/guide.md")).unwrap()
}

#[test]
fn the_list_is_every_name_semconv_exports() {
    let source = include_str!("../redis-trace-core/src/semconv.rs");
    let code = source.split("#[cfg(test)]").next().unwrap();
    let declared = (code.lines())
        .filter(|line| line.trim_start().starts_with("pub const "))
        .count();
    // Values that are not names: the scope's name, `redis` and the error.type values.
    let values = [
        "SCOPE_NAME",
        "REDIS:",
        "CANCELLED",
        "PANIC",
        "IO:",
        "TIMEOUT",
        "OTHER",
    ];
    let not_names = values
        .iter()
        .filter(|v| code.contains(&format!("pub const {v}")))
        .count();
    assert_eq!(
        declared - not_names,
        WRITTEN.len(),
        "add the new name to WRITTEN"
    );
}

#[test]
fn the_guide_names_only_what_is_written_and_all_of_ours() {
    let guide = guide();
    // The conformance table names what is *not* written, on purpose: left out of the check.
    let (before, rest) = guide.split_once("# Conformance").unwrap();
    let after = rest.split_once("\n# ").map_or("", |(_, after)| after);
    let checked = format!("{before}{after}");
    let mentioned = names_in(&checked);
    let written: BTreeSet<&str> = WRITTEN.iter().copied().collect();
    // File names, and a name's tail quoted alone (`idle.min` of `db.client.connection.idle.min`).
    let elsewhere = |name: &str| {
        [".rs", ".md", ".yaml", ".yml", ".toml"]
            .iter()
            .any(|extension| name.ends_with(extension))
            || (written.iter()).any(|full| full.ends_with(&format!(".{name}")))
    };
    let unknown: Vec<&str> = (mentioned.iter().copied())
        .filter(|name| !written.contains(name) && !elsewhere(name))
        .collect();
    assert!(
        unknown.is_empty(),
        "the guide names what is not written: {unknown:?}"
    );
    let ours = ["cache.", "redis.", "redis_trace."];
    let missing: Vec<&str> = (written.iter().copied())
        .filter(|name| ours.iter().any(|prefix| name.starts_with(prefix)))
        .filter(|name| !mentioned.contains(name))
        .collect();
    assert!(
        missing.is_empty(),
        "names of ours the guide does not document: {missing:?}"
    );
}
