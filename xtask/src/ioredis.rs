//! `built/commands.json` of the npm package `@ioredis/commands`: name, arity, flags and the
//! legacy key range (first key, last key, step) of each command and subcommand.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::Entry;

/// Every command of the package at `root`, by table name.
pub fn load(root: &Path) -> Result<BTreeMap<String, Entry>, String> {
    let path = root.join("built/commands.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: Value =
        serde_json::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))?;
    let mut entries = BTreeMap::new();
    for (name, command) in json.as_object().into_iter().flatten() {
        entries.insert(name.to_ascii_uppercase(), entry(command)?);
        for (sub, subcommand) in command["subcommands"].as_object().into_iter().flatten() {
            let full = format!("{name} {sub}").to_ascii_uppercase();
            entries.insert(full, entry(subcommand)?);
        }
    }
    Ok(entries)
}

fn entry(command: &Value) -> Result<Entry, String> {
    let int = |field: &str| {
        command[field]
            .as_i64()
            .ok_or_else(|| format!("a command without {field}"))
    };
    let (first, last, step) = (int("keyStart")?, int("keyStop")?, int("step")?);
    // The legacy range as a key specification: the last key is absolute there (negative: from
    // the end) and relative to the first key in a key specification.
    let key_specs = if first > 0 {
        let last_key = if last >= 0 { last - first } else { last };
        vec![format!(
            "KeySpec {{ begin: BeginSearch::Index({first}), find: FindKeys::Range {{ last_key: {last_key}, key_step: {step}, limit: 0 }} }}"
        )]
    } else {
        Vec::new()
    };
    let flags = command["flags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|flag| flag.as_str().map(str::to_owned))
        .collect();
    Ok(Entry {
        arity: int("arity")?,
        flags,
        key_specs,
        tokens: Vec::new(),
        since: None,
        source: "Ioredis",
    })
}
