//! Redis's and Valkey's command JSON: one file per command or subcommand in `src/commands/`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::Entry;

/// Every command of the checkout at `root` (its `src/commands/*.json`), by table name; commands
/// that exist only in Sentinel mode are left out (a data server does not know them).
pub fn load(root: &Path, source: &'static str) -> Result<BTreeMap<String, Entry>, String> {
    let dir = root.join("src/commands");
    let files = std::fs::read_dir(&dir).map_err(|error| format!("{}: {error}", dir.display()))?;
    let mut entries = BTreeMap::new();
    for file in files {
        let path = file.map_err(|error| error.to_string())?.path();
        if path.extension().is_none_or(|ext| ext != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|error| error.to_string())?;
        let json: Value =
            serde_json::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))?;
        for (name, command) in json.as_object().into_iter().flatten() {
            let flags = strings(&command["command_flags"]);
            if flags.iter().any(|flag| flag == "ONLY_SENTINEL") {
                continue;
            }
            let name = match command["container"].as_str() {
                Some(container) => format!("{container} {name}"),
                None => name.clone(),
            };
            entries.insert(name.to_ascii_uppercase(), entry(command, flags, source)?);
        }
    }
    Ok(entries)
}

fn entry(command: &Value, flags: Vec<String>, source: &'static str) -> Result<Entry, String> {
    let key_specs = command["key_specs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(key_spec)
        .collect::<Result<Vec<_>, _>>()?;
    // `sentinel` says the command also runs in Sentinel mode: not a `COMMAND INFO` flag.
    let mut flags: Vec<String> = (flags.iter())
        .filter(|flag| *flag != "SENTINEL")
        .map(|flag| flag.to_ascii_lowercase())
        .collect();
    // The server derives `movablekeys` (COMMAND INFO) for keys it cannot find by a fixed range.
    let fixed = |spec: &String| spec.contains("BeginSearch::Index") && spec.contains("Range");
    let movable = !key_specs.iter().all(fixed);
    if movable {
        flags.push("movablekeys".to_owned());
    }
    let mut tokens = BTreeSet::new();
    collect_tokens(&command["arguments"], &mut tokens);
    Ok(Entry {
        arity: command["arity"].as_i64().ok_or("a command without arity")?,
        flags,
        key_specs,
        tokens: tokens.into_iter().collect(),
        since: command["since"].as_str().map(str::to_owned),
        source,
    })
}

fn key_spec(spec: &Value) -> Result<String, String> {
    let begin = &spec["begin_search"];
    let begin = if let Some(index) = begin.get("index") {
        format!("BeginSearch::Index({})", int(&index["pos"])?)
    } else if let Some(keyword) = begin.get("keyword") {
        format!(
            "BeginSearch::Keyword {{ keyword: {:?}, start_from: {} }}",
            keyword["keyword"]
                .as_str()
                .ok_or("a keyword without text")?,
            int(&keyword["startfrom"])?
        )
    } else {
        "BeginSearch::Unknown".to_owned()
    };
    let find = &spec["find_keys"];
    let find = if let Some(range) = find.get("range") {
        format!(
            "FindKeys::Range {{ last_key: {}, key_step: {}, limit: {} }}",
            int(&range["lastkey"])?,
            int(&range["step"])?,
            int(&range["limit"])?
        )
    } else if let Some(keynum) = find.get("keynum") {
        format!(
            "FindKeys::Keynum {{ keynum_index: {}, first_key: {}, key_step: {} }}",
            int(&keynum["keynumidx"])?,
            int(&keynum["firstkey"])?,
            int(&keynum["step"])?
        )
    } else {
        "FindKeys::Unknown".to_owned()
    };
    Ok(format!("KeySpec {{ begin: {begin}, find: {find} }}"))
}

/// The literal tokens of the syntax, upper case (as `COMMAND DOCS` lists them).
fn collect_tokens(arguments: &Value, tokens: &mut BTreeSet<String>) {
    for argument in arguments.as_array().into_iter().flatten() {
        if let Some(token) = argument["token"].as_str() {
            // MIGRATE's empty-key placeholder is written `""` in the JSON; the argument a client
            // sends (and `COMMAND DOCS` lists) is the empty string.
            let token = if token == "\"\"" { "" } else { token };
            tokens.insert(token.to_ascii_uppercase());
        }
        collect_tokens(&argument["arguments"], tokens);
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item.as_str().map(str::to_owned))
        .collect()
}

fn int(value: &Value) -> Result<i64, String> {
    value
        .as_i64()
        .ok_or_else(|| format!("expected an integer, got {value}"))
}
