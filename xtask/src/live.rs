//! A running server's own description of its commands (`COMMAND INFO` + `COMMAND DOCS`), as
//! the test harness's `live-commands` prints it (the reader `tests/command_table.rs` compares the
//! table with): commands and syntax newer than the JSON checkouts, e.g. Valkey 8.1's
//! `COMMANDLOG` and `SET`'s `IFEQ`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::Entry;

pub fn load(path: &Path, source: &'static str) -> Result<BTreeMap<String, Entry>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))?;
    let commands: BTreeMap<String, Value> =
        serde_json::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))?;
    commands
        .into_iter()
        .map(|(name, described)| {
            let strings = |field: &str| -> Vec<String> {
                (described[field].as_array().into_iter().flatten())
                    .filter_map(|value| value.as_str().map(str::to_owned))
                    .collect()
            };
            let entry = Entry {
                arity: described["arity"]
                    .as_i64()
                    .ok_or(format!("{name}: no arity"))?,
                flags: strings("flags"),
                key_specs: strings("key_specs")
                    .iter()
                    .map(|spec| as_rust(spec))
                    .collect(),
                tokens: strings("tokens"),
                since: described["since"].as_str().map(str::to_owned),
                source,
            };
            Ok((name, entry))
        })
        .collect()
}

/// The harness formats a key specification as `{:?}` does (`KeySpec { begin: Index(1), find:
/// Range { .. } }`); the table needs the paths (`BeginSearch::Index(1)`, `FindKeys::Range`).
fn as_rust(spec: &str) -> String {
    spec.replacen("begin: ", "begin: BeginSearch::", 1)
        .replacen("find: ", "find: FindKeys::", 1)
}
