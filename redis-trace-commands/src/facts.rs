//! What redis-trace reads into a command beyond the published table: what its reply means, whether
//! it answers per key, runs a script or names a stored procedure, its messaging role, and which
//! of its arguments are credentials. Each fact is defined here once; the macro checks attributes
//! with them and the runtime describes commands with them.

use crate::{Command, KeyCount};

/// What a command's reply tells about the keys it names, for telemetry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// It looks up stored values: a nil or empty reply is a cache miss.
    Lookup,
    /// A conditional write: its reply says whether it applied (`SET .. NX`, `SETNX`, `EXPIRE`).
    Applied,
    /// Anything else: the reply says nothing about hits or application.
    Other,
}

/// Writes that also look up the value they return.
const LOOKUPS_THAT_WRITE: &[&str] = &["GETDEL", "GETEX", "HGETDEL", "HGETEX"];

/// Writes whose reply says whether they applied (`1`/`0`, `OK`/nil). `SET` only with `NX` or
/// `XX` and without `GET` ([`Command::answer_to`]).
const CONDITIONAL_WRITES: &[&str] = &[
    "COPY",
    "EXPIRE",
    "EXPIREAT",
    "HSETNX",
    "MOVE",
    "MSETNX",
    "PERSIST",
    "PEXPIRE",
    "PEXPIREAT",
    "RENAMENX",
    "SET",
    "SETNX",
    "SMOVE",
];

/// Lookups whose reply holds one answer per key or field.
const PER_KEY_REPLIES: &[&str] = &["HMGET", "MGET", "SMISMEMBER"];

/// Commands that run a script or a function; the reply means whatever the script makes it mean.
const SCRIPT_CALLS: &[&str] = &[
    "EVAL",
    "EVALSHA",
    "EVALSHA_RO",
    "EVAL_RO",
    "FCALL",
    "FCALL_RO",
];

/// Script calls whose first argument names a stored script (its SHA) or function, rather than
/// holding the script's code.
const STORED_PROCEDURE_CALLS: &[&str] = &["EVALSHA", "EVALSHA_RO", "FCALL", "FCALL_RO"];

/// Commands whose arguments are all credentials or secrets: every one is masked, tokens included.
const ALL_MASKED: &[&str] = &["AUTH", "ACL SETUSER", "CONFIG SET"];

/// What a command does in messaging terms (the messaging semantic conventions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessagingRole {
    /// `PUBLISH`, `SPUBLISH`: sends a pub/sub message.
    Publish,
    /// `XADD`: appends an entry to a stream.
    Append,
    /// `XREAD`, `XREADGROUP`: receives stream entries.
    Read,
    /// `XACK`: settles stream entries.
    Acknowledge,
}

/// Every messaging command with its role.
const MESSAGING_COMMANDS: &[(&str, MessagingRole)] = &[
    ("PUBLISH", MessagingRole::Publish),
    ("SPUBLISH", MessagingRole::Publish),
    ("XADD", MessagingRole::Append),
    ("XREAD", MessagingRole::Read),
    ("XREADGROUP", MessagingRole::Read),
    ("XACK", MessagingRole::Acknowledge),
];

impl MessagingRole {
    /// The role of the command named `name` (case-insensitive), if it is a messaging command.
    #[must_use]
    pub fn of(name: &[u8]) -> Option<Self> {
        MESSAGING_COMMANDS
            .iter()
            .find(|(command, _)| command.as_bytes().eq_ignore_ascii_case(name))
            .map(|&(_, role)| role)
    }

    /// `messaging.operation.type`: `send`, `receive` or `settle`.
    #[must_use]
    pub fn operation_type(self) -> &'static str {
        match self {
            Self::Publish | Self::Append => "send",
            Self::Read => "receive",
            Self::Acknowledge => "settle",
        }
    }

    /// Whether the command sends a message (a PRODUCER span).
    #[must_use]
    pub fn sends(self) -> bool {
        matches!(self, Self::Publish | Self::Append)
    }
}

/// The commands that run a script or a function ([`Command::runs_script`]), for messages that
/// list them.
#[must_use]
pub fn script_calls() -> &'static [&'static str] {
    SCRIPT_CALLS
}

impl Command {
    /// What the command's reply says about its keys, whatever its arguments.
    ///
    /// Lookups are the read-only commands that take keys (`GET`, `HGET`, `MGET`, `EXISTS`,
    /// `ZSCORE`, ...) and the reads that also write (`GETDEL`, `GETEX`), but not scripts and
    /// functions (`EVAL_RO`, `FCALL_RO`), whose reply means whatever the script makes it mean.
    /// Conditional writes are `SET` (with `NX`/`XX`), `SETNX`, `HSETNX`, `MSETNX`, `RENAMENX`,
    /// `EXPIRE`, `PEXPIRE`, `EXPIREAT`, `PEXPIREAT`, `PERSIST`, `COPY`, `MOVE` and `SMOVE`.
    #[must_use]
    pub fn answer(&self) -> Answer {
        if LOOKUPS_THAT_WRITE.contains(&self.name)
            || (self.has_flag("readonly")
                && self.key_count() != KeyCount::None
                && !self.runs_script())
        {
            Answer::Lookup
        } else if CONDITIONAL_WRITES.contains(&self.name) {
            Answer::Applied
        } else {
            Answer::Other
        }
    }

    /// What the reply to this command sent with `args` (`args[0]` is its name) says: a `SET` is
    /// a conditional write only with `NX` or `XX`, and without `GET` (which returns the old
    /// value instead).
    #[must_use]
    pub fn answer_to<A: AsRef<[u8]>>(&self, args: &[A]) -> Answer {
        // SET key value [options]: the options follow the value (a value "NX" is no option).
        let has = |token: &[u8]| {
            args.iter()
                .skip(3)
                .any(|arg| arg.as_ref().eq_ignore_ascii_case(token))
        };
        match self.answer() {
            Answer::Applied
                if self.name == "SET" && (has(b"GET") || !(has(b"NX") || has(b"XX"))) =>
            {
                Answer::Other
            }
            answer => answer,
        }
    }

    /// Whether redis-rs's client-side cache (`cache-aio`) might answer the command from the
    /// process's memory: a read-only command that takes keys. A superset of redis-rs's own list
    /// (`GET`, `HGETALL`, `MGET`, ...): the reads it leaves out merely count as possible lookups.
    #[must_use]
    pub fn may_be_cached_locally(&self) -> bool {
        self.has_flag("readonly") && self.key_count() != KeyCount::None && !self.runs_script()
    }

    /// Whether the reply holds one answer per key or field (`MGET`, `HMGET`, `SMISMEMBER`).
    #[must_use]
    pub fn replies_per_key(&self) -> bool {
        PER_KEY_REPLIES.contains(&self.name)
    }

    /// Whether the command runs a script or a function (`EVAL`, `EVALSHA`, `FCALL`, and their
    /// read-only forms).
    #[must_use]
    pub fn runs_script(&self) -> bool {
        SCRIPT_CALLS.contains(&self.name)
    }

    /// Whether the first argument names a stored script or function
    /// (`db.stored_procedure.name`): `EVALSHA`, `FCALL` and their read-only forms.
    #[must_use]
    pub fn names_stored_procedure(&self) -> bool {
        STORED_PROCEDURE_CALLS.contains(&self.name)
    }

    /// The command's messaging role, if it sends, receives or settles messages.
    #[must_use]
    pub fn messaging_role(&self) -> Option<MessagingRole> {
        MessagingRole::of(self.name.as_bytes())
    }

    /// Whether every argument is masked, syntax tokens included (`AUTH`, `ACL SETUSER`,
    /// `CONFIG SET`).
    #[must_use]
    pub fn masks_every_argument(&self) -> bool {
        ALL_MASKED.contains(&self.name)
    }

    /// How many arguments after the syntax token `token` are credentials:
    /// `HELLO .. AUTH user pass`, `MIGRATE .. AUTH pass`, `MIGRATE .. AUTH2 user pass`.
    #[must_use]
    pub fn credentials_after(&self, token: &[u8]) -> usize {
        let is = |expected: &[u8]| token.eq_ignore_ascii_case(expected);
        match self.name {
            "HELLO" if is(b"AUTH") => 2,
            "MIGRATE" if is(b"AUTH2") => 2,
            "MIGRATE" if is(b"AUTH") => 1,
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{lookup, lookup_args, subcommands};

    #[test]
    fn answers() {
        let answer = |name: &str| lookup(name).unwrap().answer();
        for name in [
            "GET", "HGET", "MGET", "EXISTS", "HGETALL", "ZSCORE", "GETDEL", "GETEX",
        ] {
            assert_eq!(answer(name), Answer::Lookup, "{name}");
        }
        for name in [
            "SET", "SETNX", "HSETNX", "MSETNX", "EXPIRE", "PERSIST", "RENAMENX",
        ] {
            assert_eq!(answer(name), Answer::Applied, "{name}");
        }
        for name in [
            "DEL",
            "HSET",
            "EVALSHA",
            "EVALSHA_RO",
            "FCALL_RO",
            "PING",
            "DBSIZE",
            "SCAN",
        ] {
            assert_eq!(answer(name), Answer::Other, "{name}");
        }
        assert_eq!(subcommands("GET").count(), 0);
    }

    #[test]
    fn a_set_applies_conditionally_only_with_nx_or_xx() {
        let answer = |args: &[&str]| lookup_args(args).unwrap().answer_to(args);
        assert_eq!(answer(&["SET", "k", "v"]), Answer::Other);
        assert_eq!(
            answer(&["SET", "k", "v", "nx", "PX", "100"]),
            Answer::Applied
        );
        assert_eq!(answer(&["SET", "k", "v", "XX", "GET"]), Answer::Other);
        assert_eq!(answer(&["SETNX", "k", "v"]), Answer::Applied);
        assert_eq!(
            answer(&["SET", "flag", "NX"]),
            Answer::Other,
            "a value, not an option"
        );
        assert_eq!(
            answer(&["SET", "k", "GET", "NX"]),
            Answer::Applied,
            "GET is the value"
        );
        assert_eq!(answer(&["GETDEL", "k"]), Answer::Lookup);
        assert_eq!(answer(&["EVALSHA_RO", "abc", "0"]), Answer::Other);
    }

    #[test]
    fn scripts_procedures_and_per_key_replies() {
        let command = |name: &str| lookup(name).unwrap();
        assert!(command("MGET").replies_per_key());
        assert!(!command("GET").replies_per_key());
        assert!(command("EVAL").runs_script() && !command("EVAL").names_stored_procedure());
        assert!(command("FCALL_RO").names_stored_procedure());
        // Every stored-procedure call is a script call, and every name is in the table.
        for name in STORED_PROCEDURE_CALLS {
            assert!(command(name).runs_script(), "{name}");
        }
        let lists = [
            LOOKUPS_THAT_WRITE,
            CONDITIONAL_WRITES,
            PER_KEY_REPLIES,
            SCRIPT_CALLS,
            ALL_MASKED,
        ];
        for name in lists.into_iter().flatten() {
            assert!(lookup(name).is_some(), "{name} is not in the table");
        }
    }

    #[test]
    fn messaging_roles_and_credentials() {
        for (name, role) in MESSAGING_COMMANDS {
            assert_eq!(lookup(name).unwrap().messaging_role(), Some(*role));
        }
        assert_eq!(MessagingRole::of(b"xReadGroup"), Some(MessagingRole::Read));
        assert_eq!(MessagingRole::of(b"GET"), None);
        assert!(MessagingRole::Publish.sends() && !MessagingRole::Read.sends());
        assert_eq!(MessagingRole::Acknowledge.operation_type(), "settle");
        assert_eq!(lookup("HELLO").unwrap().credentials_after(b"auth"), 2);
        assert_eq!(lookup("MIGRATE").unwrap().credentials_after(b"AUTH"), 1);
        assert_eq!(lookup("GET").unwrap().credentials_after(b"AUTH"), 0);
        assert!(lookup("CONFIG SET").unwrap().masks_every_argument());
    }
}
