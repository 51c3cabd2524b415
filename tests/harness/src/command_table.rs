//! What a live redis-server says about its commands (`COMMAND INFO` + `COMMAND DOCS`, Redis
//! 7.0+), in the shape of `redis-trace-commands`' table, for `tests/command_table.rs` to compare.

use std::collections::{BTreeMap, BTreeSet};

use redis::Value;

/// One command as the server describes it.
#[derive(Debug)]
pub struct Entry {
    /// Its arity.
    pub arity: i64,
    /// Its `COMMAND INFO` flags.
    pub flags: Vec<String>,
    /// Its key specifications, formatted as `{:?}` formats `redis_trace_commands::KeySpec`.
    pub key_specs: Vec<String>,
    /// The tokens of its syntax, upper case.
    pub tokens: BTreeSet<String>,
    /// The server version it appeared in (`COMMAND DOCS`), when the server says.
    pub since: Option<String>,
}

/// Every command and subcommand of the server behind `conn`, by table name (`CLIENT SETNAME`).
pub fn live_commands(conn: &mut redis::Connection) -> BTreeMap<String, Entry> {
    let info: Value = redis::cmd("COMMAND")
        .arg("INFO")
        .query(conn)
        .expect("COMMAND INFO");
    let docs: Value = redis::cmd("COMMAND")
        .arg("DOCS")
        .query(conn)
        .expect("COMMAND DOCS");
    let mut entries = BTreeMap::new();
    for command in &items(&info) {
        collect_info(command, &mut entries);
    }
    for (name, doc) in &pairs(&docs) {
        collect_tokens(&display_name(&text(name)), doc, &mut entries);
    }
    entries
}

fn collect_info(command: &Value, entries: &mut BTreeMap<String, Entry>) {
    let fields = items(command);
    let name = display_name(&text(&fields[0]));
    let entry = Entry {
        arity: int(&fields[1]),
        flags: items(&fields[2]).iter().map(text).collect(),
        key_specs: fields
            .get(8)
            .map(items)
            .unwrap_or_default()
            .iter()
            .map(key_spec)
            .collect(),
        tokens: BTreeSet::new(),
        since: None,
    };
    entries.insert(name, entry);
    if let Some(subcommands) = fields.get(9) {
        for subcommand in &items(subcommands) {
            collect_info(subcommand, entries);
        }
    }
}

/// `client|setname` → `CLIENT SETNAME`.
fn display_name(raw: &str) -> String {
    raw.replace('|', " ").to_ascii_uppercase()
}

fn key_spec(spec: &Value) -> String {
    let spec = map(spec);
    let begin = map(&spec["begin_search"]);
    let begin_spec = map(&begin["spec"]);
    let begin = match text(&begin["type"]).as_str() {
        "index" => format!("Index({})", int(&begin_spec["index"])),
        "keyword" => format!(
            "Keyword {{ keyword: {:?}, start_from: {} }}",
            text(&begin_spec["keyword"]),
            int(&begin_spec["startfrom"])
        ),
        _ => "Unknown".to_owned(),
    };
    let find = map(&spec["find_keys"]);
    let find_spec = map(&find["spec"]);
    let find = match text(&find["type"]).as_str() {
        "range" => format!(
            "Range {{ last_key: {}, key_step: {}, limit: {} }}",
            int(&find_spec["lastkey"]),
            int(&find_spec["keystep"]),
            int(&find_spec["limit"])
        ),
        "keynum" => format!(
            "Keynum {{ keynum_index: {}, first_key: {}, key_step: {} }}",
            int(&find_spec["keynumidx"]),
            int(&find_spec["firstkey"]),
            int(&find_spec["keystep"])
        ),
        _ => "Unknown".to_owned(),
    };
    format!("KeySpec {{ begin: {begin}, find: {find} }}")
}

fn collect_tokens(name: &str, doc: &Value, entries: &mut BTreeMap<String, Entry>) {
    let doc = map(doc);
    if let Some(entry) = entries.get_mut(name) {
        if let Some(arguments) = doc.get("arguments") {
            collect_argument_tokens(arguments, &mut entry.tokens);
        }
        entry.since = doc.get("since").map(text);
    }
    if let Some(subcommands) = doc.get("subcommands") {
        for (sub_name, sub_doc) in &pairs(subcommands) {
            collect_tokens(&display_name(&text(sub_name)), sub_doc, entries);
        }
    }
}

fn collect_argument_tokens(arguments: &Value, tokens: &mut BTreeSet<String>) {
    for argument in &items(arguments) {
        let argument = map(argument);
        if let Some(token) = argument.get("token") {
            tokens.insert(text(token).to_ascii_uppercase());
        }
        if let Some(nested) = argument.get("arguments") {
            collect_argument_tokens(nested, tokens);
        }
    }
}

fn items(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) | Value::Set(items) => items.clone(),
        Value::Map(pairs) => pairs
            .iter()
            .flat_map(|(k, v)| [k.clone(), v.clone()])
            .collect(),
        Value::Nil => Vec::new(),
        other => panic!("expected an array, got {other:?}"),
    }
}

/// A RESP2 flat `[k, v, k, v]` array or a RESP3 map, as pairs.
fn pairs(value: &Value) -> Vec<(Value, Value)> {
    items(value)
        .chunks(2)
        .map(|pair| (pair[0].clone(), pair[1].clone()))
        .collect()
}

fn map(value: &Value) -> BTreeMap<String, Value> {
    pairs(value)
        .into_iter()
        .map(|(k, v)| (text(&k), v))
        .collect()
}

fn text(value: &Value) -> String {
    match value {
        Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Value::SimpleString(text) => text.clone(),
        Value::VerbatimString { text, .. } => text.clone(),
        Value::Int(number) => number.to_string(),
        other => panic!("expected a string, got {other:?}"),
    }
}

fn int(value: &Value) -> i64 {
    match value {
        Value::Int(number) => *number,
        other => text(other).parse().expect("an integer"),
    }
}
