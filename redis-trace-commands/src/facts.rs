//! What redis-trace reads into a command beyond the published table: what its reply means, whether
//! it answers per key, runs a script (and how it names it), which of its arguments are
//! credentials ([`FACTS`], one row per command), and what it does in messaging and where its
//! destination, group and payload are ([`MESSAGING_COMMANDS`]). Each fact is defined here once;
//! the macro checks attributes with them and the runtime describes commands with them.

use crate::{lookup, Command, KeyCount, COMMANDS};

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

/// What redis-trace knows of one command beyond the published table. A command without a row
/// in [`FACTS`] has none of these: its flags say the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Facts {
    /// What its reply says when its flags do not: a write that returns the value it looks up
    /// (`GETDEL`) answers as a lookup; a conditional write as applied or not.
    answer: Option<Answer>,
    /// Its reply holds one answer per key or field.
    replies_per_key: bool,
    /// It runs a script or a function, named so.
    runs: Option<Runs>,
    /// Every argument is a credential or a secret: all are masked, syntax tokens included.
    masks_every_argument: bool,
    /// The syntax tokens followed by credentials, and how many (`HELLO .. AUTH user pass`).
    credentials_after: &'static [(&'static str, usize)],
}

/// How a command that runs a script or a function names what it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runs {
    /// The script's code is its first argument (`EVAL`, `EVAL_RO`).
    Source,
    /// The first argument is the SHA of a script the server holds (`EVALSHA`, `EVALSHA_RO`),
    /// which it answers `NOSCRIPT` when it does not.
    Sha,
    /// The first argument names a function the server holds (`FCALL`, `FCALL_RO`).
    Function,
}

const NO_FACTS: Facts = Facts {
    answer: None,
    replies_per_key: false,
    runs: None,
    masks_every_argument: false,
    credentials_after: &[],
};

/// A write that returns the value it looks up: its reply is a lookup's.
const RETURNS_WHAT_IT_LOOKS_UP: Facts = Facts {
    answer: Some(Answer::Lookup),
    ..NO_FACTS
};

/// A write whose reply says whether it applied (`1`/`0`, `OK`/nil). `SET` only with `NX`,
/// `XX` or `IFEQ` and without `GET` ([`Command::answer_to`]).
const APPLIES_CONDITIONALLY: Facts = Facts {
    answer: Some(Answer::Applied),
    ..NO_FACTS
};

/// A lookup whose reply holds one answer per key or field.
const ANSWERS_PER_KEY: Facts = Facts {
    replies_per_key: true,
    ..NO_FACTS
};

/// Every argument is a credential or a secret.
const ALL_SECRET: Facts = Facts {
    masks_every_argument: true,
    ..NO_FACTS
};

/// Runs a script or a function, named as `runs` says.
const fn runs(runs: Runs) -> Facts {
    Facts {
        runs: Some(runs),
        ..NO_FACTS
    }
}

/// Credentials after syntax tokens.
const fn credentials_after(tokens: &'static [(&'static str, usize)]) -> Facts {
    Facts {
        credentials_after: tokens,
        ..NO_FACTS
    }
}

/// Every command with a fact of its own, sorted by name (a test checks the order and that each
/// is in the table).
const FACTS: &[(&str, Facts)] = &[
    ("ACL SETUSER", ALL_SECRET),
    ("AUTH", ALL_SECRET),
    ("CONFIG SET", ALL_SECRET),
    ("COPY", APPLIES_CONDITIONALLY),
    ("EVAL", runs(Runs::Source)),
    ("EVALSHA", runs(Runs::Sha)),
    ("EVALSHA_RO", runs(Runs::Sha)),
    ("EVAL_RO", runs(Runs::Source)),
    ("EXPIRE", APPLIES_CONDITIONALLY),
    ("EXPIREAT", APPLIES_CONDITIONALLY),
    ("FCALL", runs(Runs::Function)),
    ("FCALL_RO", runs(Runs::Function)),
    ("GETDEL", RETURNS_WHAT_IT_LOOKS_UP),
    ("GETEX", RETURNS_WHAT_IT_LOOKS_UP),
    ("HELLO", credentials_after(&[("AUTH", 2)])),
    ("HGETDEL", RETURNS_WHAT_IT_LOOKS_UP),
    ("HGETEX", RETURNS_WHAT_IT_LOOKS_UP),
    ("HMGET", ANSWERS_PER_KEY),
    ("HSETNX", APPLIES_CONDITIONALLY),
    ("MGET", ANSWERS_PER_KEY),
    ("MIGRATE", credentials_after(&[("AUTH", 1), ("AUTH2", 2)])),
    ("MOVE", APPLIES_CONDITIONALLY),
    ("MSETNX", APPLIES_CONDITIONALLY),
    ("PERSIST", APPLIES_CONDITIONALLY),
    ("PEXPIRE", APPLIES_CONDITIONALLY),
    ("PEXPIREAT", APPLIES_CONDITIONALLY),
    ("RENAMENX", APPLIES_CONDITIONALLY),
    ("SET", APPLIES_CONDITIONALLY),
    ("SETNX", APPLIES_CONDITIONALLY),
    ("SMISMEMBER", ANSWERS_PER_KEY),
    ("SMOVE", APPLIES_CONDITIONALLY),
];

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

/// Where an argument a messaging command records sits (`args[0]` is the command's name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Argument {
    /// At this index.
    At(usize),
    /// The command's first key, where the table's key specifications put it: a stream
    /// (`XREAD .. STREAMS <stream> ..`).
    FirstKey,
}

/// A messaging command: its role, and where its destination (channel or stream), consumer
/// group and payload are among its arguments.
struct MessagingCommand {
    name: &'static str,
    role: MessagingRole,
    destination: Argument,
    group: Option<Argument>,
    payload: Option<Argument>,
}

/// Every messaging command.
const MESSAGING_COMMANDS: &[MessagingCommand] = &[
    // PUBLISH channel message (a channel is no key: the table has no key specification for it).
    MessagingCommand {
        name: "PUBLISH",
        role: MessagingRole::Publish,
        destination: Argument::At(1),
        group: None,
        payload: Some(Argument::At(2)),
    },
    // SPUBLISH shardchannel message
    MessagingCommand {
        name: "SPUBLISH",
        role: MessagingRole::Publish,
        destination: Argument::At(1),
        group: None,
        payload: Some(Argument::At(2)),
    },
    // XADD key [..] id field value [..]
    MessagingCommand {
        name: "XADD",
        role: MessagingRole::Append,
        destination: Argument::FirstKey,
        group: None,
        payload: None,
    },
    // XREAD [COUNT n] [BLOCK ms] STREAMS key [..] id [..]
    MessagingCommand {
        name: "XREAD",
        role: MessagingRole::Read,
        destination: Argument::FirstKey,
        group: None,
        payload: None,
    },
    // XREADGROUP GROUP group consumer [..] STREAMS key [..] id [..]
    MessagingCommand {
        name: "XREADGROUP",
        role: MessagingRole::Read,
        destination: Argument::FirstKey,
        group: Some(Argument::At(2)),
        payload: None,
    },
    // XACK key group id [..]
    MessagingCommand {
        name: "XACK",
        role: MessagingRole::Acknowledge,
        destination: Argument::FirstKey,
        group: Some(Argument::At(2)),
        payload: None,
    },
];

impl MessagingCommand {
    /// The messaging command named `name` (case-insensitive).
    fn of(name: &[u8]) -> Option<&'static Self> {
        // Every messaging command starts with one of these (a test checks it): most commands
        // are told apart by one byte.
        let first = name.first().map(u8::to_ascii_uppercase);
        if !matches!(first, Some(b'P' | b'S' | b'X')) {
            return None;
        }
        MESSAGING_COMMANDS
            .iter()
            .find(|command| command.name.as_bytes().eq_ignore_ascii_case(name))
    }
}

impl MessagingRole {
    /// The role of the command named `name` (case-insensitive), if it is a messaging command.
    #[must_use]
    pub fn of(name: &[u8]) -> Option<Self> {
        MessagingCommand::of(name).map(|command| command.role)
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

/// A messaging command's role and the arguments the messaging conventions record, as indexes
/// into its arguments (each within them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessagingArguments {
    /// What the command does.
    pub role: MessagingRole,
    /// The channel or stream (`messaging.destination.name`); for `XREAD`, the first stream.
    pub destination: Option<usize>,
    /// The consumer group (`XREADGROUP`, `XACK`).
    pub group: Option<usize>,
    /// The message's payload (`PUBLISH`, `SPUBLISH`).
    pub payload: Option<usize>,
}

/// The role and recorded arguments of the command `args` invoke (`args[0]` is its name), if it
/// is a messaging command.
#[must_use]
pub fn messaging_arguments<A: AsRef<[u8]>>(args: &[A]) -> Option<MessagingArguments> {
    let command = MessagingCommand::of(args.first()?.as_ref())?;
    let position = |argument: Option<Argument>| match argument? {
        Argument::At(at) => Some(at).filter(|&at| at < args.len()),
        Argument::FirstKey => lookup(command.name)?.first_key_position(args),
    };
    Some(MessagingArguments {
        role: command.role,
        destination: position(Some(command.destination)),
        group: position(command.group),
        payload: position(command.payload),
    })
}

/// What a command's reply means, from [`Command::reply_facts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyFacts {
    /// [`Command::answer_to`] for the arguments given.
    pub answer: Answer,
    /// [`Command::replies_per_key`].
    pub per_key: bool,
    /// [`Command::names_stored_procedure`].
    pub names_stored_procedure: bool,
}

/// The row of [`FACTS`] for `command`, by a search.
/// What is known of one entry of the table, worked out once.
struct Row {
    facts: &'static Facts,
    answer: Answer,
}

impl Row {
    fn of(command: &Command) -> Self {
        Self {
            facts: search_facts(command),
            answer: command.find_answer(),
        }
    }
}

fn search_facts(command: &Command) -> &'static Facts {
    match FACTS.binary_search_by(|(name, _)| (*name).cmp(command.name)) {
        Ok(at) => &FACTS[at].1,
        Err(_) => &NO_FACTS,
    }
}

/// The commands that run a script or a function ([`Command::runs_script`]), for messages that
/// list them.
#[must_use]
pub fn script_calls() -> Vec<&'static str> {
    let calls = FACTS.iter().filter(|(_, facts)| facts.runs.is_some());
    calls.map(|&(name, _)| name).collect()
}

impl Command {
    /// Its row of [`FACTS`], or none. Read on every traced command, several times: a command
    /// of the table finds its row by its position, searched once for the whole table.
    fn facts(&self) -> &'static Facts {
        self.row()
            .map_or_else(|| search_facts(self), |row| row.facts)
    }

    /// The command's row of facts, made once for the whole table, when it is an entry of the
    /// table (found by its position, not searched by name).
    fn row(&self) -> Option<&'static Row> {
        static ROWS: std::sync::OnceLock<Box<[Row]>> = std::sync::OnceLock::new();
        let position = self.position()?;
        let rows = ROWS.get_or_init(|| COMMANDS.iter().map(Row::of).collect());
        Some(&rows[position])
    }

    /// What the command's reply says about its keys, whatever its arguments.
    ///
    /// Lookups are the read-only commands that take keys (`GET`, `HGET`, `MGET`, `EXISTS`,
    /// `ZSCORE`, ...) and the reads that also write (`GETDEL`, `GETEX`), but not scripts and
    /// functions (`EVAL_RO`, `FCALL_RO`), whose reply means whatever the script makes it mean.
    /// Conditional writes are `SET` (with `NX`/`XX`/`IFEQ`), `SETNX`, `HSETNX`, `MSETNX`, `RENAMENX`,
    /// `EXPIRE`, `PEXPIRE`, `EXPIREAT`, `PEXPIREAT`, `PERSIST`, `COPY`, `MOVE` and `SMOVE`.
    #[must_use]
    pub fn answer(&self) -> Answer {
        self.row()
            .map_or_else(|| self.find_answer(), |row| row.answer)
    }

    fn find_answer(&self) -> Answer {
        let facts = search_facts(self);
        match facts.answer {
            Some(answer) => answer,
            None if self.has_flag("readonly")
                && self.key_count() != KeyCount::None
                && facts.runs.is_none() =>
            {
                Answer::Lookup
            }
            None => Answer::Other,
        }
    }

    /// What the reply to this command sent with `args` (`args[0]` is its name) says: a `SET` is
    /// a conditional write only with `NX`, `XX` or `IFEQ` (Valkey 8.1), and without `GET` (which returns the old
    /// value instead).
    #[must_use]
    pub fn answer_to<A: AsRef<[u8]>>(&self, args: &[A]) -> Answer {
        self.answer_with(self.answer(), args)
    }

    /// [`Command::answer_to`], [`Command::replies_per_key`] and
    /// [`Command::names_stored_procedure`] from one lookup of the command's facts: what a
    /// traced connection asks of every command it describes.
    #[must_use]
    pub fn reply_facts<A: AsRef<[u8]>>(&self, args: &[A]) -> ReplyFacts {
        let (facts, answer) = match self.row() {
            Some(row) => (row.facts, row.answer),
            None => (search_facts(self), self.find_answer()),
        };
        ReplyFacts {
            answer: self.answer_with(answer, args),
            per_key: facts.replies_per_key,
            names_stored_procedure: matches!(facts.runs, Some(Runs::Sha | Runs::Function)),
        }
    }

    fn answer_with<A: AsRef<[u8]>>(&self, answer: Answer, args: &[A]) -> Answer {
        // SET key value [options]: the options follow the value (a value "NX" is no option).
        // NX, XX and Valkey 8.1's IFEQ make it conditional: nil when nothing was written.
        let has = |token: &[u8]| {
            args.iter()
                .skip(3)
                .any(|arg| arg.as_ref().eq_ignore_ascii_case(token))
        };
        match answer {
            Answer::Applied
                if self.name == "SET"
                    && (has(b"GET") || !(has(b"NX") || has(b"XX") || has(b"IFEQ"))) =>
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
        self.facts().replies_per_key
    }

    /// Whether the command runs a script or a function (`EVAL`, `EVALSHA`, `FCALL`, and their
    /// read-only forms).
    #[must_use]
    pub fn runs_script(&self) -> bool {
        self.facts().runs.is_some()
    }

    /// Whether the command runs a script by its SHA (`EVALSHA`, `EVALSHA_RO`), which the server
    /// answers `NOSCRIPT` when it does not hold the script.
    #[must_use]
    pub fn runs_script_by_sha(&self) -> bool {
        self.facts().runs == Some(Runs::Sha)
    }

    /// Whether the first argument names a stored script or function
    /// (`db.stored_procedure.name`): `EVALSHA`, `FCALL` and their read-only forms.
    #[must_use]
    pub fn names_stored_procedure(&self) -> bool {
        matches!(self.facts().runs, Some(Runs::Sha | Runs::Function))
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
        self.facts().masks_every_argument
    }

    /// How many arguments after the syntax token `token` are credentials:
    /// `HELLO .. AUTH user pass`, `MIGRATE .. AUTH pass`, `MIGRATE .. AUTH2 user pass`.
    #[must_use]
    pub fn credentials_after(&self, token: &[u8]) -> usize {
        let mut tokens = self.facts().credentials_after.iter();
        tokens
            .find(|(expected, _)| token.eq_ignore_ascii_case(expected.as_bytes()))
            .map_or(0, |&(_, count)| count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{lookup, lookup_args, subcommands};

    #[test]
    fn reply_facts_agree_with_each_question() {
        let set_nx = ["SET", "k", "v", "NX"];
        for command in COMMANDS {
            let args = [command.name, "k", "v", "NX"];
            for args in [&args[..], &set_nx[..], &["SET", "k", "v", "GET"][..]] {
                let facts = command.reply_facts(args);
                assert_eq!(facts.answer, command.answer_to(args), "{}", command.name);
                assert_eq!(facts.per_key, command.replies_per_key(), "{}", command.name);
                assert_eq!(
                    facts.names_stored_procedure,
                    command.names_stored_procedure(),
                    "{}",
                    command.name
                );
            }
        }
        // A command outside the table (a copy: its facts found by a search, not by its
        // position).
        let set = lookup("SET").unwrap();
        let copied = Command { ..*set };
        assert!(copied.row().is_none());
        assert_eq!(copied.reply_facts(&set_nx).answer, Answer::Applied);
        assert_eq!(copied.reply_facts(&["SET", "k", "v"]).answer, Answer::Other);
    }

    #[test]
    fn every_messaging_command_is_found_in_any_case() {
        for command in MESSAGING_COMMANDS {
            let lower = command.name.to_ascii_lowercase();
            let found = MessagingCommand::of(lower.as_bytes()).map(|found| found.name);
            assert_eq!(found, Some(command.name));
        }
        assert!(MessagingCommand::of(b"GET").is_none());
        assert!(MessagingCommand::of(b"").is_none());
    }

    #[test]
    fn a_command_finds_its_row_by_position_as_by_search() {
        for command in COMMANDS {
            assert!(
                std::ptr::eq(command.facts(), search_facts(command)),
                "{}",
                command.name
            );
        }
        // A command built elsewhere (not an entry of the table) is searched.
        let copy = Command {
            ..*lookup("GETDEL").unwrap()
        };
        assert_eq!(copy.answer(), lookup("GETDEL").unwrap().answer());
    }

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
    fn a_set_applies_conditionally_only_with_nx_xx_or_ifeq() {
        let answer = |args: &[&str]| lookup_args(args).unwrap().answer_to(args);
        assert_eq!(answer(&["SET", "k", "v"]), Answer::Other);
        assert_eq!(
            answer(&["SET", "k", "v", "nx", "PX", "100"]),
            Answer::Applied
        );
        assert_eq!(answer(&["SET", "k", "v", "XX", "GET"]), Answer::Other);
        assert_eq!(answer(&["SET", "k", "v", "IFEQ", "old"]), Answer::Applied);
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
        assert!(command("EVALSHA_RO").runs_script_by_sha());
        assert!(!command("EVAL").runs_script_by_sha() && !command("FCALL").runs_script_by_sha());
        assert_eq!(
            script_calls(),
            [
                "EVAL",
                "EVALSHA",
                "EVALSHA_RO",
                "EVAL_RO",
                "FCALL",
                "FCALL_RO"
            ]
        );
    }

    #[test]
    fn the_fact_table_is_sorted_and_names_commands_of_the_table() {
        for pair in FACTS.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} before {}", pair[0].0, pair[1].0);
        }
        for (name, facts) in FACTS {
            let command = lookup(name).unwrap_or_else(|| panic!("{name} is not in the table"));
            assert_ne!(*facts, NO_FACTS, "{name} has a row without a fact");
            assert_eq!(command.facts(), facts, "{name}");
            for (token, _) in facts.credentials_after {
                assert!(command.is_token(token.as_bytes()), "{name} {token}");
            }
        }
    }

    #[test]
    fn messaging_roles_and_credentials() {
        for command in MESSAGING_COMMANDS {
            let known = lookup(command.name).unwrap();
            assert_eq!(known.messaging_role(), Some(command.role));
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

    #[test]
    fn messaging_arguments_are_where_each_command_puts_them() {
        let found = |args: &[&str]| messaging_arguments(args).unwrap();
        let publish = found(&["publish", "orders", "payload"]);
        assert_eq!(publish.role, MessagingRole::Publish);
        assert_eq!((publish.destination, publish.payload), (Some(1), Some(2)));
        assert_eq!(found(&["XADD", "s", "*", "f", "v"]).destination, Some(1));
        let ack = found(&["XACK", "s", "g", "0-1"]);
        assert_eq!((ack.destination, ack.group), (Some(1), Some(2)));
        let read = found(&["XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0"]);
        assert_eq!(
            (read.role, read.destination, read.group),
            (MessagingRole::Read, Some(4), None)
        );
        // A group or consumer named like the token is not where the streams start.
        let args = [
            "XREADGROUP",
            "GROUP",
            "streams",
            "STREAMS",
            "STREAMS",
            "s",
            ">",
        ];
        let group_read = found(&args);
        assert_eq!(
            (group_read.destination, group_read.group),
            (Some(5), Some(2))
        );
        // Missing arguments are absent, never out of bounds.
        let short = found(&["PUBLISH"]);
        assert_eq!((short.destination, short.payload), (None, None));
        assert_eq!(found(&["XREAD", "STREAMS"]).destination, None);
        assert_eq!(messaging_arguments(&["GET", "k"]), None);
        assert_eq!(messaging_arguments::<&str>(&[]), None);
    }
}
