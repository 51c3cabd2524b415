//! What a command's arguments say, read the same way by the connection, the statement and the
//! messaging code: the arguments of a redis-rs `Cmd`, the command's name, a short text
//! argument, the cluster hash slot of its keys.

use std::borrow::Cow;

use opentelemetry::StringValue;
use redis::{Arg, Cmd};
use redis_trace_commands::{lookup_args, Command, RepeatLookup};

use crate::intern;
use crate::text::truncate_on_char_boundary;

/// A command's arguments, inline up to four (most commands): no allocation per command.
pub(crate) type Args<'a> = smallvec::SmallVec<[&'a [u8]; 4]>;

/// Appends the arguments of a redis-rs command to `args` (read in place: a `Call` is 80
/// bytes, which a returned value would move at each step).
#[inline]
fn read_args<'a>(cmd: &'a Cmd, args: &mut Args<'a>) {
    // Pushed one by one: `collect` reserves through a general path first, which costs more
    // than the two to four pushes of most commands.
    for arg in cmd.args_iter() {
        args.push(match arg {
            Arg::Simple(bytes) => bytes,
            // A scan cursor, filled in by redis-rs: its value is not known here.
            _ => b"0".as_slice(),
        });
    }
}

/// A command's arguments, with its entry in the command table: looked up on demand, or once
/// when read as a [`Call`] (the description and the statement both need it).
pub(crate) trait CommandArgs {
    fn args(&self) -> &[&[u8]];

    fn command(&self) -> Option<&'static Command> {
        lookup_args(self.args())
    }

    /// `db.operation.name` (see [`operation_name`]).
    fn operation_name(&self) -> Cow<'static, str> {
        operation_name(self.command(), self.args())
    }
}

/// `db.operation.name` of `args`, which invoke `known`: the table's name when the table knows
/// the command (no second lookup), else [`command_name`].
pub(crate) fn operation_name(known: Option<&'static Command>, args: &[&[u8]]) -> Cow<'static, str> {
    match known {
        Some(command) => Cow::Borrowed(command.name),
        None => command_name(args),
    }
}

impl CommandArgs for Vec<&[u8]> {
    fn args(&self) -> &[&[u8]] {
        self
    }
}

impl CommandArgs for Args<'_> {
    fn args(&self) -> &[&[u8]] {
        self
    }
}

/// A redis-rs command read once: its arguments and its table entry.
pub(crate) struct Call<'a> {
    args: Args<'a>,
    command: Option<&'static Command>,
}

impl<'a> Call<'a> {
    pub(crate) fn of(cmd: &'a Cmd) -> Self {
        let mut call = Self {
            args: Args::new(),
            command: None,
        };
        read_args(cmd, &mut call.args);
        call.command = with_recent_lookups(|lookups| lookups.lookup(&call.args));
        call
    }

    /// A pipeline's commands, read once: a name spelt as one found recently is not looked up
    /// again.
    pub(crate) fn all_of(pipeline: &'a redis::Pipeline) -> Vec<Self> {
        with_recent_lookups(|lookups| {
            let mut calls = Vec::with_capacity(pipeline.len());
            for cmd in pipeline.cmd_iter() {
                calls.push(Self {
                    args: Args::new(),
                    command: None,
                });
                if let Some(call) = calls.last_mut() {
                    read_args(cmd, &mut call.args);
                    call.command = lookups.lookup(&call.args);
                }
            }
            calls
        })
    }
}

/// Runs `read` with this thread's command lookups: a service sends the same few commands
/// again and again, and one found recently is answered by comparing its name.
fn with_recent_lookups<R>(read: impl Fn(&RepeatLookup) -> R) -> R {
    thread_local! {
        static RECENT: RepeatLookup = const { RepeatLookup::new() };
    }
    // During thread exit: a lookup that remembers nothing.
    RECENT
        .try_with(&read)
        .unwrap_or_else(|_| read(&RepeatLookup::new()))
}

impl CommandArgs for Call<'_> {
    #[inline]
    fn args(&self) -> &[&[u8]] {
        &self.args
    }

    #[inline]
    fn command(&self) -> Option<&'static Command> {
        self.command
    }
}

/// The name of a redis-rs command (its first argument).
pub(crate) fn cmd_name(cmd: &Cmd) -> Option<&[u8]> {
    match cmd.args_iter().next()? {
        Arg::Simple(name) => Some(name),
        _ => None,
    }
}

/// Whether the command `args` is `name` (case-insensitive).
pub(crate) fn is_named(args: &[&[u8]], name: &[u8]) -> bool {
    args.first()
        .is_some_and(|first| first.eq_ignore_ascii_case(name))
}

/// The cluster hash slot shared by every key of `commands`, if they share one.
pub(crate) fn common_slot<'a>(commands: impl IntoIterator<Item = &'a [&'a [u8]]>) -> Option<u16> {
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
pub(crate) fn hash_slot(key: &[u8]) -> u16 {
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

/// `db.operation.name` of the command `args`: the command table's name (with its subcommand),
/// else the first argument in upper case if it reads as a name, else `UNKNOWN`.
pub(crate) fn command_name<A: AsRef<[u8]>>(args: &[A]) -> Cow<'static, str> {
    if let Some(command) = lookup_args(args) {
        return Cow::Borrowed(command.name);
    }
    match args
        .first()
        .map(|name| String::from_utf8_lossy(name.as_ref()))
    {
        Some(name) if !name.is_empty() && name.chars().all(|c| c.is_ascii_graphic()) => {
            Cow::Owned(name.to_ascii_uppercase())
        }
        _ => Cow::Borrowed("UNKNOWN"),
    }
}

/// Longest name-like argument recorded (a consumer group, a procedure): names are code, not data.
pub(crate) const MAX_NAME_LEN: usize = 128;

/// A name-like argument (consumer group, script SHA, function name) as a shared string, lossy
/// UTF-8, at most [`MAX_NAME_LEN`] bytes.
pub(crate) fn name_text(arg: &[u8]) -> StringValue {
    let text = String::from_utf8_lossy(arg);
    intern::share(truncate_on_char_boundary(&text, MAX_NAME_LEN))
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
    fn command_names() {
        assert_eq!(command_name(&["get", "k"]), "GET");
        assert_eq!(command_name(&["client", "setname", "n"]), "CLIENT SETNAME");
        assert_eq!(command_name(&["json.get", "k"]), "JSON.GET");
        assert_eq!(command_name(&["bad name"]), "UNKNOWN");
        assert_eq!(command_name::<&str>(&[]), "UNKNOWN");
    }
}
