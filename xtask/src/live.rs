//! A running server's own description of its commands (`COMMAND INFO` + `COMMAND DOCS`, read
//! by the test harness's reader, the one `tests/command_table.rs` compares the table with):
//! commands and syntax newer than the JSON checkouts, e.g. Valkey 8.1's `COMMANDLOG` and `SET`'s
//! `IFEQ`.

use std::collections::BTreeMap;

use crate::Entry;

pub fn load(url: &str, source: &'static str) -> Result<BTreeMap<String, Entry>, String> {
    let client = redis::Client::open(url).map_err(|error| format!("{url}: {error}"))?;
    let mut conn = client
        .get_connection()
        .map_err(|error| format!("{url}: {error}"))?;
    let live = redis_trace_harness::command_table::live_commands(&mut conn);
    Ok(live
        .into_iter()
        .map(|(name, entry)| {
            let entry = Entry {
                arity: entry.arity,
                flags: entry.flags,
                key_specs: entry.key_specs.iter().map(|spec| as_rust(spec)).collect(),
                tokens: entry.tokens.into_iter().collect(),
                since: entry.since,
                source,
            };
            (name, entry)
        })
        .collect())
}

/// The harness formats a key specification as `{:?}` does (`KeySpec { begin: Index(1), find:
/// Range { .. } }`); the table needs the paths (`BeginSearch::Index(1)`, `FindKeys::Range`).
fn as_rust(spec: &str) -> String {
    spec.replacen("begin: ", "begin: BeginSearch::", 1)
        .replacen("find: ", "find: FindKeys::", 1)
}
