//! What a traced connection tells its operation about a command or pipeline: its name,
//! sanitized statement, batch size, cluster hash slot, what its reply means (the command
//! facts of `redis-trace-commands`) and its messaging attributes (`messaging`).

use std::borrow::Cow;

use opentelemetry::StringValue;
use redis_trace_commands::{lookup_args, Answer, Command};

use crate::args::{command_name, is_named, name_text};
use crate::command::CommandSpec;
use crate::config::Config;
use crate::globals;
use crate::intern;
use crate::messaging;
use crate::statement::sanitize_into;
use crate::summary::Summary;
use crate::text::truncate_on_char_boundary;

/// One command, given as its arguments (`args[0]` is the name).
pub(super) fn command(args: &[&[u8]], slot: Option<u16>, config: &Config) -> CommandSpec {
    let known = lookup_args(args);
    // The table's name when the table knows it: one lookup, not two.
    let operation = known.map_or_else(|| command_name(args), |command| Cow::Borrowed(command.name));
    let summary = config
        .summary_rules()
        .and_then(|rules| rules.command(&operation, args));
    CommandSpec {
        summary_overflowed: summary.as_ref().is_some_and(|s| s.overflowed),
        summary: summary.map(counted),
        operation,
        answer: known.map_or(Answer::Other, |command| command.answer_to(args)),
        per_key: known.is_some_and(Command::replies_per_key),
        procedure: known
            .filter(|command| command.names_stored_procedure())
            .and_then(|_| args.get(1))
            .map(|name| name_text(name)),
        batch_size: None,
        slot,
        peer: None,
        late_peer: None,
        commands: Vec::new(),
        messaging: messaging::describe(args, config),
        cache_result: None,
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
    let summary = config.summary_rules().map(|rules| {
        let each = (commands.iter()).zip(&names);
        rules.batch(kind, each.map(|(args, name)| (&**name, args.as_slice())))
    });
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
        summary_overflowed: summary.as_ref().is_some_and(|s| s.overflowed),
        summary: summary.map(counted),
        batch_size: (commands.len() != 1).then_some(commands.len()),
        slot,
        peer: None,
        late_peer: None,
        commands: per_command,
        answer: Answer::Other,
        per_key: false,
        procedure: None,
        messaging: None,
        cache_result: None,
    }
}

/// `db.query.text` of one command: rendered only for a span that is kept.
pub(super) fn command_statement(args: &[&[u8]], config: &Config) -> StringValue {
    intern::share_rendered(|out| statement_into(args, config, out))
}

/// `db.query.text` of a pipeline: its commands' statements joined by `; `, up to the cap.
pub(super) fn pipeline_statement(commands: &[Vec<&[u8]>], config: &Config) -> StringValue {
    let max_len = config.max_statement_length();
    intern::share_rendered(|joined| {
        for args in commands {
            if joined.len() >= max_len {
                break; // huge pipelines: stop sanitizing once the cap is reached
            }
            if !joined.is_empty() {
                joined.push_str("; ");
            }
            statement_into(args, config, joined);
        }
        let kept = truncate_on_char_boundary(joined, max_len).len();
        joined.truncate(kept);
    })
}

/// `db.query.text` of what the blocking API packed: one command, a transaction (`MULTI`,
/// the commands, `EXEC`: the commands) or a pipeline.
pub(super) fn packed_statement(commands: &[Vec<&[u8]>], config: &Config) -> StringValue {
    match commands {
        [args] => command_statement(args, config),
        [first, inner @ .., last] if is_named(first, b"MULTI") && is_named(last, b"EXEC") => {
            pipeline_statement(inner, config)
        }
        all => pipeline_statement(all, config),
    }
}

/// The summary's text, its overflow counted in `redis_trace.query_summary.overflows`.
fn counted(summary: Summary) -> StringValue {
    if summary.overflowed {
        globals::with_instruments(|instruments| instruments.count_summary_overflow());
    }
    summary.text
}

fn statement(args: &[&[u8]], config: &Config) -> String {
    let mut out = String::new();
    statement_into(args, config, &mut out);
    out
}

fn statement_into(args: &[&[u8]], config: &Config, out: &mut String) {
    sanitize_into(
        args,
        config.key_policy(),
        config.max_key_length(),
        config.max_statement_length(),
        out,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{common_slot, hash_slot};

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
        assert_eq!(
            pipeline_statement(&mixed, &config).as_str(),
            "GET a; SET b ?"
        );
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
}
