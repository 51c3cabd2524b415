//! What a traced connection tells its operation about a command or pipeline: its name,
//! sanitized statement, batch size, cluster hash slot, what its reply means (the command
//! facts of `redis-trace-commands`) and its messaging attributes (`messaging`).

use std::borrow::Cow;

use opentelemetry::StringValue;
use redis_trace_commands::{Answer, Command};

use crate::args::{is_named, name_text, operation_name, CommandArgs};
use crate::command::CommandSpec;
use crate::config::Config;
use crate::globals;
use crate::intern;
use crate::messaging;
use crate::statement::sanitize_into;
use crate::summary::Summary;
use crate::text::TextBuf;

/// One command, described into the blank `spec`.
pub(super) fn command(
    call: &impl CommandArgs,
    slot: Option<u16>,
    config: &Config,
    spec: &mut CommandSpec,
) {
    command_as(
        call,
        slot,
        config,
        messaging::describe(call.args(), config),
        spec,
    );
}

/// One command that is not a messaging command: the caller has read its name.
pub(super) fn plain_command(
    call: &impl CommandArgs,
    slot: Option<u16>,
    config: &Config,
    spec: &mut CommandSpec,
) {
    command_as(call, slot, config, None, spec);
}

/// One command whose messaging attributes are already described. Written field by field into
/// the blank `spec`: what is not known of a single command stays blank.
pub(super) fn command_as(
    call: &impl CommandArgs,
    slot: Option<u16>,
    config: &Config,
    messaging: Option<messaging::MessagingSpec>,
    spec: &mut CommandSpec,
) {
    let (args, known) = (call.args(), call.command());
    let operation = operation_name(known, args);
    let summary = config
        .summary_rules()
        .and_then(|rules| rules.command(&operation, known, args));
    let reply = known.map(|command| command.reply_facts(args));
    spec.summary_overflowed = summary.as_ref().is_some_and(|s| s.overflowed);
    spec.summary = summary.map(counted);
    spec.operation = operation;
    spec.answer = reply.map_or(Answer::Other, |reply| reply.answer);
    spec.per_key = reply.is_some_and(|reply| reply.per_key);
    spec.procedure = reply
        .filter(|reply| reply.names_stored_procedure)
        .and_then(|_| args.get(1))
        .map(|name| name_text(name));
    spec.slot = slot;
    // Only when there is one: the blank's `None` is not dropped (an out-of-line call).
    if let Some(messaging) = messaging {
        spec.messaging = Some(messaging);
    }
}

/// A pipeline, or a transaction's commands (without `MULTI` and `EXEC`), described into the
/// blank `spec`.
pub(super) fn pipeline<C: CommandArgs>(
    commands: &[C],
    transaction: bool,
    slot: Option<u16>,
    config: &Config,
    spec: &mut CommandSpec,
) {
    let kind = if transaction { "MULTI" } else { "PIPELINE" };
    // Table commands are the same command when they are the same entry: no names compared.
    let same_command = |a: &C, b: &C| match (a.command(), b.command()) {
        (Some(a), Some(b)) => std::ptr::eq(a, b),
        (None, None) => a.operation_name() == b.operation_name(),
        _ => false,
    };
    let operation = match commands {
        [first, rest @ ..] if rest.iter().all(|call| same_command(call, first)) => {
            batch_operation(kind, first.command(), first.operation_name())
        }
        _ => Cow::Borrowed(kind),
    };
    let summary = config.summary_rules().map(|rules| {
        let each = commands
            .iter()
            .map(|call| (call.operation_name(), call.command(), call.args()));
        let names: Vec<_> = each.collect();
        let each = names
            .iter()
            .map(|(name, known, args)| (&**name, *known, *args));
        rules.batch(kind, each)
    });
    let per_command = if config.pipeline_command_spans() {
        (commands.iter())
            .map(|call| (call.operation_name(), command_statement(call, config)))
            .collect()
    } else {
        Vec::new()
    };
    spec.operation = operation;
    spec.summary_overflowed = summary.as_ref().is_some_and(|s| s.overflowed);
    spec.summary = summary.map(counted);
    spec.batch_size = (commands.len() != 1).then_some(commands.len());
    spec.slot = slot;
    spec.commands = per_command;
}

/// `PIPELINE GET`, `MULTI SET`: for the table's commands (`command`), made once for the whole
/// table on first use (about 20 KiB) and shared from then on, without a lock: every pipeline
/// of a service names itself so.
fn batch_operation(
    kind: &'static str,
    command: Option<&'static Command>,
    name: Cow<'static, str>,
) -> Cow<'static, str> {
    static MADE: std::sync::OnceLock<Box<[[&'static str; 2]]>> = std::sync::OnceLock::new();
    let made = || {
        MADE.get_or_init(|| {
            let leak = |text: String| -> &'static str { Box::leak(text.into_boxed_str()) };
            (redis_trace_commands::COMMANDS.iter())
                .map(|command| {
                    let name = command.name;
                    [
                        leak(format!("PIPELINE {name}")),
                        leak(format!("MULTI {name}")),
                    ]
                })
                .collect()
        })
    };
    match command
        .and_then(Command::position)
        .map(|position| made()[position])
    {
        Some([pipeline, _]) if kind == "PIPELINE" => Cow::Borrowed(pipeline),
        Some([_, multi]) if kind == "MULTI" => Cow::Borrowed(multi),
        _ => format!("{kind} {name}").into(),
    }
}

/// `db.query.text` of one command: rendered only for a span that is kept.
pub(super) fn command_statement(call: &impl CommandArgs, config: &Config) -> StringValue {
    intern::share_rendered(|out| statement_into(call, config, out))
}

/// `db.query.text` of a pipeline: its commands' statements joined by `; `, up to the cap; or
/// the one statement when every command's is the same (`GET user:?` for ten `GET user:<id>`),
/// as the conventions ask of a batch. A pipeline whose statements reach the cap keeps the
/// joined form: huge pipelines are not sanitized past it to find out.
pub(super) fn pipeline_statement<C: CommandArgs>(commands: &[C], config: &Config) -> StringValue {
    let max_len = config.max_statement_length();
    intern::share_rendered(|joined| {
        let mut first_len = 0;
        let mut all_same = true;
        for (index, args) in commands.iter().enumerate() {
            if joined.len() >= max_len {
                all_same = false;
                break; // huge pipelines: stop sanitizing once the cap is reached
            }
            if index > 0 {
                joined.extend_ascii(b"; ");
            }
            let start = joined.len();
            statement_into(args, config, joined);
            if index == 0 {
                first_len = joined.len();
            } else {
                let text = joined.as_bytes();
                all_same = all_same && text[start..] == text[..first_len];
            }
        }
        if all_same {
            joined.truncate(first_len);
        } else {
            joined.truncate_appended(0, max_len);
        }
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

fn statement_into(call: &impl CommandArgs, config: &Config, out: &mut TextBuf) {
    sanitize_into(
        call.args(),
        call.command(),
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

    fn described(write: impl FnOnce(&mut CommandSpec)) -> CommandSpec {
        let mut spec = CommandSpec::blank();
        write(&mut spec);
        spec
    }

    #[test]
    fn pipelines_are_named_by_their_commands() {
        let config = Config::default();
        let batch = |commands: &[Vec<&[u8]>], transaction, slot| {
            described(|spec| pipeline(commands, transaction, slot, &config, spec))
        };
        let single =
            |args: &[&[u8]], slot| described(|spec| command(&args.to_vec(), slot, &config, spec));
        let gets = [vec![&b"GET"[..], b"a"], vec![b"get", b"b"]];
        assert_eq!(batch(&gets, false, None).operation, "PIPELINE GET");
        assert_eq!(batch(&gets, true, None).operation, "MULTI GET");
        let mixed = [vec![&b"GET"[..], b"a"], vec![b"SET", b"b", b"v"]];
        let mixed_slot = common_slot(mixed.iter().map(Vec::as_slice));
        let spec = batch(&mixed, false, mixed_slot);
        assert_eq!(spec.operation, "PIPELINE");
        assert_eq!(
            pipeline_statement(&mixed, &config).as_str(),
            "GET a; SET b ?"
        );
        // The same statement for every command: said once.
        let same = [vec![&b"GET"[..], b"user:1"], vec![b"get", b"user:2"]];
        assert_eq!(pipeline_statement(&same, &config).as_str(), "GET user:?");
        let differing = [vec![&b"GET"[..], b"user:1"], vec![b"GET", b"order:2"]];
        assert_eq!(
            pipeline_statement(&differing, &config).as_str(),
            "GET user:?; GET order:?"
        );
        assert_eq!(spec.batch_size, Some(2));
        assert_eq!(spec.slot, None, "a and b hash to different slots");
        let args: [&[u8]; 2] = [b"GET", b"{user1}:name"];
        let get = single(&args, common_slot([&args[..]]));
        assert_eq!(get.slot, Some(hash_slot(b"user1")));
        assert_eq!(get.answer, Answer::Lookup);
        assert!(single(&[b"MGET", b"a", b"b"], None).per_key);
        let call = single(&[b"fcall", b"release", b"1", b"k"], None);
        assert_eq!(call.procedure.unwrap().as_str(), "release");
        assert_eq!(single(&[b"EVAL", b"return 1", b"0"], None).procedure, None);
    }
}
