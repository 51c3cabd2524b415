//! What a traced connection tells its operation about a command or pipeline: its name,
//! sanitized statement, batch size and cluster hash slot.

use std::borrow::Cow;

use redis::{Arg, Cmd};
use redis_trace_commands::{lookup_args, Answer};

use crate::command::CommandSpec;
use crate::config::Config;
use crate::intern;
pub(super) use crate::statement::command_name;
use crate::statement::sanitize;
use crate::text::truncate_on_char_boundary;

/// Commands whose reply holds one answer per key or field.
const PER_KEY_REPLIES: &[&str] = &["HMGET", "MGET", "SMISMEMBER"];

/// Commands whose first argument names a stored script or function.
const PROCEDURE_CALLS: &[&str] = &["EVALSHA", "EVALSHA_RO", "FCALL", "FCALL_RO"];

/// Longest `db.stored_procedure.name` recorded: a SHA is 40 bytes, a function name is code.
const MAX_PROCEDURE_LEN: usize = 128;

/// One command, given as its arguments (`args[0]` is the name).
pub(super) fn command(args: &[&[u8]], slot: Option<u16>, config: &Config) -> CommandSpec {
    let operation = command_name(args);
    CommandSpec {
        answer: answer(args),
        per_key: PER_KEY_REPLIES.contains(&&*operation),
        procedure: procedure(&operation, args),
        operation,
        statement: intern::share(&statement(args, config)),
        batch_size: None,
        slot,
        commands: Vec::new(),
        messaging: super::messages::spec(args, config),
    }
}

/// The script SHA or function name a command calls.
fn procedure(operation: &str, args: &[&[u8]]) -> Option<opentelemetry::StringValue> {
    if !PROCEDURE_CALLS.contains(&operation) {
        return None;
    }
    let name = String::from_utf8_lossy(args.get(1)?);
    Some(intern::share(truncate_on_char_boundary(
        &name,
        MAX_PROCEDURE_LEN,
    )))
}

/// What the reply of the command `args` says: the command table's answer, where a `SET` is a
/// conditional write only with `NX` or `XX` (and without `GET`, which returns the old value).
fn answer(args: &[&[u8]]) -> Answer {
    let Some(command) = lookup_args(args) else {
        return Answer::Other;
    };
    let has = |token: &[u8]| args[1..].iter().any(|arg| arg.eq_ignore_ascii_case(token));
    match command.answer() {
        Answer::Applied
            if command.name == "SET" && (has(b"GET") || !(has(b"NX") || has(b"XX"))) =>
        {
            Answer::Other
        }
        answer => answer,
    }
}

/// A pipeline, or a transaction's commands (without `MULTI` and `EXEC`).
pub(super) fn pipeline(
    commands: &[Vec<&[u8]>],
    transaction: bool,
    slot: Option<u16>,
    config: &Config,
) -> CommandSpec {
    let kind = if transaction { "MULTI" } else { "PIPELINE" };
    let names: Vec<Cow<'static, str>> = commands.iter().map(|args| command_name(args)).collect();
    let operation = match names.first() {
        Some(first) if names.iter().all(|name| name == first) => format!("{kind} {first}").into(),
        _ => Cow::Borrowed(kind),
    };
    let max_len = config.max_statement_length();
    let mut joined = String::new();
    for args in commands {
        if joined.len() >= max_len {
            break; // huge pipelines: stop sanitizing once the cap is reached
        }
        if !joined.is_empty() {
            joined.push_str("; ");
        }
        joined.push_str(&statement(args, config));
    }
    let per_command = if config.pipeline_command_spans() {
        names
            .into_iter()
            .zip(commands)
            .map(|(name, args)| (name, intern::share(&statement(args, config))))
            .collect()
    } else {
        Vec::new()
    };
    CommandSpec {
        operation,
        statement: intern::share(truncate_on_char_boundary(&joined, max_len)),
        batch_size: (commands.len() != 1).then_some(commands.len()),
        slot,
        commands: per_command,
        answer: Answer::Other,
        per_key: false,
        procedure: None,
        messaging: None,
    }
}

fn statement(args: &[&[u8]], config: &Config) -> String {
    sanitize(
        args,
        config.key_policy(),
        config.max_key_length(),
        config.max_statement_length(),
    )
}

/// The arguments of a redis-rs command.
pub(super) fn cmd_args(cmd: &Cmd) -> Vec<&[u8]> {
    cmd.args_iter()
        .map(|arg| match arg {
            Arg::Simple(bytes) => bytes,
            // A scan cursor, filled in by redis-rs: its value is not known here.
            _ => b"0".as_slice(),
        })
        .collect()
}

/// Whether the command `args` is `name` (case-insensitive).
pub(super) fn is_named(args: &[&[u8]], name: &[u8]) -> bool {
    args.first()
        .is_some_and(|first| first.eq_ignore_ascii_case(name))
}

/// The cluster hash slot shared by every key of `commands`, if they share one.
pub(super) fn common_slot<'a>(commands: impl IntoIterator<Item = &'a [&'a [u8]]>) -> Option<u16> {
    let mut slot = None;
    for args in commands {
        let Some(command) = lookup_args(args) else {
            continue;
        };
        for position in command.key_positions(args) {
            let key_slot = hash_slot(args[position]);
            match slot {
                None => slot = Some(key_slot),
                Some(existing) if existing != key_slot => return None,
                Some(_) => {}
            }
        }
    }
    slot
}

/// Redis Cluster's hash slot: CRC16 (XMODEM) of the key, or of its `{hash tag}`, mod 16384.
fn hash_slot(key: &[u8]) -> u16 {
    let hashed = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            let close = rest.iter().position(|&b| b == b'}')?;
            (close > 0).then(|| &rest[..close])
        })
        .unwrap_or(key);
    crc16::State::<crc16::XMODEM>::calculate(hashed) % 16384
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_slots_follow_the_cluster_spec() {
        // Values from the Redis Cluster specification and `CLUSTER KEYSLOT`.
        assert_eq!(hash_slot(b"123456789"), 12739);
        assert_eq!(hash_slot(b"foo"), 12182);
        assert_eq!(hash_slot(b"{user1000}.following"), hash_slot(b"user1000"));
        assert_eq!(hash_slot(b"{foo}bar"), 12182);
        // An empty tag does not count: the whole key is hashed.
        assert_ne!(hash_slot(b"{}foo"), hash_slot(b"foo"));
    }

    #[test]
    fn pipelines_are_named_by_their_commands() {
        let config = Config::default();
        let gets = [vec![&b"GET"[..], b"a"], vec![b"get", b"b"]];
        assert_eq!(
            pipeline(&gets, false, None, &config).operation,
            "PIPELINE GET"
        );
        assert_eq!(pipeline(&gets, true, None, &config).operation, "MULTI GET");
        let mixed = [vec![&b"GET"[..], b"a"], vec![b"SET", b"b", b"v"]];
        let mixed_slot = common_slot(mixed.iter().map(Vec::as_slice));
        let spec = pipeline(&mixed, false, mixed_slot, &config);
        assert_eq!(spec.operation, "PIPELINE");
        assert_eq!(spec.statement.as_str(), "GET a; SET b ?");
        assert_eq!(spec.batch_size, Some(2));
        assert_eq!(spec.slot, None, "a and b hash to different slots");
        let args: [&[u8]; 2] = [b"GET", b"{user1}:name"];
        let single = command(&args, common_slot([&args[..]]), &config);
        assert_eq!(single.slot, Some(hash_slot(b"user1")));
        assert_eq!(single.answer, Answer::Lookup);
        assert!(command(&[b"MGET", b"a", b"b"], None, &config).per_key);
        let call = command(&[b"fcall", b"release", b"1", b"k"], None, &config);
        assert_eq!(call.procedure.unwrap().as_str(), "release");
        assert_eq!(
            command(&[b"EVAL", b"return 1", b"0"], None, &config).procedure,
            None
        );
    }

    #[test]
    fn a_set_applies_conditionally_only_with_nx_or_xx() {
        assert_eq!(answer(&[b"SET", b"k", b"v"]), Answer::Other);
        assert_eq!(
            answer(&[b"SET", b"k", b"v", b"nx", b"PX", b"100"]),
            Answer::Applied
        );
        assert_eq!(answer(&[b"SET", b"k", b"v", b"XX", b"GET"]), Answer::Other);
        assert_eq!(answer(&[b"SETNX", b"k", b"v"]), Answer::Applied);
        assert_eq!(answer(&[b"GETDEL", b"k"]), Answer::Lookup);
        assert_eq!(answer(&[b"EVALSHA_RO", b"abc", b"0"]), Answer::Other);
    }
}
