//! Prints what a running server says about its commands (`COMMAND INFO` + `COMMAND DOCS`, the
//! reader `tests/command_table.rs` compares the table with) as JSON, for the command-table
//! generator's `--live` source:
//!
//! ```text
//! cargo run -p redis-trace-harness --bin live-commands -- redis://127.0.0.1:PORT > live.json
//! ```

use std::process::ExitCode;

use serde_json::{json, Map, Value};

fn main() -> ExitCode {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: live-commands redis://host:port");
        return ExitCode::FAILURE;
    };
    let connection = redis::Client::open(url.as_str()).and_then(|client| client.get_connection());
    let mut connection = match connection {
        Ok(connection) => connection,
        Err(error) => {
            eprintln!("live-commands: {url}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let commands = redis_trace_harness::command_table::live_commands(&mut connection);
    let commands: Map<String, Value> = commands
        .into_iter()
        .map(|(name, entry)| {
            let described = json!({
                "arity": entry.arity,
                "flags": entry.flags,
                "key_specs": entry.key_specs,
                "tokens": entry.tokens,
                "since": entry.since,
            });
            (name, described)
        })
        .collect();
    println!("{}", Value::Object(commands));
    ExitCode::SUCCESS
}
