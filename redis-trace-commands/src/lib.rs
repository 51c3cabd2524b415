//! The Redis command table shared by `redis-trace-macros` (compile-time validation) and
//! `redis-trace-core` (statement sanitizing at run time): one source of truth, no dependencies.
//!
//! The table ([`COMMANDS`]) is generated from a real `redis-server`'s `COMMAND INFO` and
//! `COMMAND DOCS` by `tests/command_table.rs` in the `redis-trace` repository, which also fails
//! when the checked-in table is stale. Subcommands are entries of their own, named with a space
//! (`CLIENT SETNAME`, `CONFIG GET`).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

// Generated text, compared byte for byte by the stale-table test: rustfmt must leave it alone.
#[rustfmt::skip]
mod table;

pub use table::{COMMANDS, REDIS_VERSION};

/// One Redis command (or subcommand).
#[derive(Debug, PartialEq, Eq)]
pub struct Command {
    /// Upper-case name; subcommands as `CONTAINER SUB` (`CLIENT SETNAME`).
    pub name: &'static str,
    /// Redis arity: the number of arguments including the command name (and the subcommand
    /// name); negative means "at least" its absolute value.
    pub arity: i16,
    /// Redis command flags (`readonly`, `write`, `movablekeys`, ...).
    pub flags: &'static [&'static str],
    /// Where the keys are among the arguments.
    pub key_specs: &'static [KeySpec],
    /// The literal tokens the command's syntax contains (`EX`, `NX`, `WITHSCORES`, `STREAMS`),
    /// upper case, sorted.
    pub tokens: &'static [&'static str],
}

/// A Redis 7 key specification: where to start looking for keys, and how to find them.
#[derive(Debug, PartialEq, Eq)]
pub struct KeySpec {
    /// How to find the first key.
    pub begin: BeginSearch,
    /// How to find the following keys.
    pub find: FindKeys,
}

/// The first step of a key specification.
#[derive(Debug, PartialEq, Eq)]
pub enum BeginSearch {
    /// Keys start at this argument index (the command name is index 0).
    Index(u16),
    /// Keys start after `keyword`, searched from `start_from` (negative: from the end).
    Keyword {
        /// The keyword, e.g. `STREAMS`.
        keyword: &'static str,
        /// Where the search starts.
        start_from: i16,
    },
    /// Not describable (the command computes its keys).
    Unknown,
}

/// The second step of a key specification.
#[derive(Debug, PartialEq, Eq)]
pub enum FindKeys {
    /// Keys up to `last_key` (relative to the first; negative: from the end) every `key_step`;
    /// with `last_key = -1`, `limit > 1` means only 1/limit of the remaining arguments.
    Range {
        /// Index of the last key, relative to the first key.
        last_key: i16,
        /// Distance between keys.
        key_step: u16,
        /// Divides the remaining arguments when `last_key` is -1.
        limit: u16,
    },
    /// The number of keys is an argument (`EVAL script numkeys key...`).
    Keynum {
        /// Index of the count, relative to the begin position.
        keynum_index: u16,
        /// Index of the first key, relative to the begin position.
        first_key: u16,
        /// Distance between keys.
        key_step: u16,
    },
    /// Not describable.
    Unknown,
}

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

/// Writes whose reply says whether they applied (`1`/`0`, `OK`/nil).
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

/// How many keys a command can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCount {
    /// None (`PING`, `INFO`, `PUBLISH`).
    None,
    /// Exactly one per call (`GET`, `HSET`).
    One,
    /// Possibly several (`MGET`, `DEL`, `EVAL`, `ZUNIONSTORE`).
    Many,
}

impl Command {
    /// Whether the command has the Redis flag `flag` (lower case, e.g. `"readonly"`).
    #[must_use]
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }

    /// Whether `argument` is one of the command's syntax tokens (case-insensitive).
    #[must_use]
    pub fn is_token(&self, argument: &[u8]) -> bool {
        let Ok(argument) = std::str::from_utf8(argument) else {
            return false;
        };
        self.tokens
            .binary_search_by(|token| cmp_ignore_ascii_case(token, argument))
            .is_ok()
    }

    /// How many keys the command can take.
    #[must_use]
    pub fn key_count(&self) -> KeyCount {
        let mut total = 0_u32;
        for spec in self.key_specs {
            match spec.find {
                FindKeys::Range { last_key: 0, .. } => total += 1,
                _ => return KeyCount::Many,
            }
        }
        match total {
            0 => KeyCount::None,
            1 => KeyCount::One,
            _ => KeyCount::Many,
        }
    }

    /// What the command's reply says about its keys.
    ///
    /// Lookups are the read-only commands that take keys (`GET`, `HGET`, `MGET`, `EXISTS`,
    /// `ZSCORE`, ...) and the reads that also write (`GETDEL`, `GETEX`), but not scripts and
    /// functions (`EVAL_RO`, `FCALL_RO`), whose reply means whatever the script makes it mean.
    /// Conditional writes are `SET` (with `NX`/`XX`), `SETNX`, `HSETNX`, `MSETNX`, `RENAMENX`,
    /// `EXPIRE`, `PEXPIRE`, `EXPIREAT`, `PEXPIREAT`, `PERSIST`, `COPY`, `MOVE` and `SMOVE`.
    #[must_use]
    pub fn answer(&self) -> Answer {
        let script = self.name.starts_with("EVAL") || self.name.starts_with("FCALL");
        if LOOKUPS_THAT_WRITE.contains(&self.name)
            || (self.has_flag("readonly") && self.key_count() != KeyCount::None && !script)
        {
            Answer::Lookup
        } else if CONDITIONAL_WRITES.contains(&self.name) {
            Answer::Applied
        } else {
            Answer::Other
        }
    }

    /// The most keys one call can pass: `None` when unbounded.
    #[must_use]
    pub fn max_keys(&self) -> Option<usize> {
        match self.key_count() {
            KeyCount::None => Some(0),
            KeyCount::One => Some(1),
            KeyCount::Many if self.arity > 0 => {
                // Fixed arity: every argument but the name(s) could at most be a key.
                let names = 1 + self.name.matches(' ').count();
                Some(
                    usize::try_from(self.arity)
                        .unwrap_or(0)
                        .saturating_sub(names),
                )
            }
            KeyCount::Many => None,
        }
    }

    /// The positions of the keys in `args` (`args[0]` is the command name; for subcommands
    /// `args[1]` is the subcommand), following the key specifications. Positions are sorted and
    /// never out of bounds, whatever the arguments.
    #[must_use]
    pub fn key_positions<A: AsRef<[u8]>>(&self, args: &[A]) -> Vec<usize> {
        let mut positions = Vec::new();
        for spec in self.key_specs {
            let Some(begin) = begin_position(&spec.begin, args) else {
                continue;
            };
            let (first, last, step) = match spec.find {
                FindKeys::Range {
                    last_key,
                    key_step,
                    limit,
                } => {
                    let last = if last_key >= 0 {
                        begin + last_key.unsigned_abs() as usize
                    } else if last_key == -1 && limit > 1 {
                        let remaining = args.len().saturating_sub(begin);
                        begin + (remaining / usize::from(limit)).saturating_sub(1)
                    } else {
                        args.len().saturating_sub(last_key.unsigned_abs() as usize)
                    };
                    (begin, last, usize::from(key_step.max(1)))
                }
                FindKeys::Keynum {
                    keynum_index,
                    first_key,
                    key_step,
                } => {
                    let count = args
                        .get(begin + usize::from(keynum_index))
                        .and_then(|count| std::str::from_utf8(count.as_ref()).ok())
                        .and_then(|count| count.parse::<usize>().ok())
                        .unwrap_or(0);
                    let step = usize::from(key_step.max(1));
                    let first = begin + usize::from(first_key);
                    if count == 0 {
                        continue;
                    }
                    (first, first + (count - 1) * step, step)
                }
                FindKeys::Unknown => continue,
            };
            let mut position = first;
            while position <= last && position < args.len() {
                positions.push(position);
                position += step;
            }
        }
        positions.sort_unstable();
        positions.dedup();
        positions
    }
}

fn begin_position<A: AsRef<[u8]>>(begin: &BeginSearch, args: &[A]) -> Option<usize> {
    match *begin {
        BeginSearch::Index(index) => Some(usize::from(index)),
        BeginSearch::Keyword {
            keyword,
            start_from,
        } => {
            let is_keyword = |arg: &A| arg.as_ref().eq_ignore_ascii_case(keyword.as_bytes());
            if start_from >= 0 {
                let start = start_from.unsigned_abs() as usize;
                (start..args.len())
                    .find(|&i| is_keyword(&args[i]))
                    .map(|i| i + 1)
            } else {
                let start = args.len().checked_sub(start_from.unsigned_abs() as usize)?;
                (0..=start)
                    .rev()
                    .find(|&i| is_keyword(&args[i]))
                    .map(|i| i + 1)
            }
        }
        BeginSearch::Unknown => None,
    }
}

fn cmp_ignore_ascii_case(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes()
        .map(|c| c.to_ascii_uppercase())
        .cmp(b.bytes().map(|c| c.to_ascii_uppercase()))
}

/// The command named `name` (case-insensitive; subcommands as `"CLIENT SETNAME"`).
#[must_use]
pub fn lookup(name: &str) -> Option<&'static Command> {
    COMMANDS
        .binary_search_by(|command| cmp_ignore_ascii_case(command.name, name))
        .ok()
        .map(|index| &COMMANDS[index])
}

/// The subcommands of a container command (`CLIENT` → `CLIENT SETNAME`, ...).
pub fn subcommands(container: &str) -> impl Iterator<Item = &'static str> + '_ {
    COMMANDS.iter().filter_map(move |command| {
        let (head, _) = command.name.split_once(' ')?;
        (head == container).then_some(command.name)
    })
}

/// The command that `args` invoke: the subcommand entry when there is one (`CLIENT SETNAME`),
/// else the command itself.
#[must_use]
pub fn lookup_args<A: AsRef<[u8]>>(args: &[A]) -> Option<&'static Command> {
    let name = std::str::from_utf8(args.first()?.as_ref()).ok()?;
    if let Some(sub) = args
        .get(1)
        .and_then(|sub| std::str::from_utf8(sub.as_ref()).ok())
    {
        if let Some(command) = lookup(&format!("{name} {sub}")) {
            return Some(command);
        }
    }
    lookup(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(command: &str, args: &[&str]) -> Vec<usize> {
        lookup(command).unwrap().key_positions(args)
    }

    #[test]
    fn table_is_sorted_and_has_the_usual_commands() {
        assert!(COMMANDS
            .windows(2)
            .all(|w| cmp_ignore_ascii_case(w[0].name, w[1].name).is_lt()));
        assert_eq!(lookup("get").unwrap().arity, 2);
        assert_eq!(lookup("CLIENT SETNAME").unwrap().name, "CLIENT SETNAME");
        assert!(lookup("GTE").is_none());
        assert!(lookup("GET").unwrap().has_flag("readonly"));
        assert!(lookup("SET").unwrap().is_token(b"px"));
    }

    #[test]
    fn key_counts() {
        assert_eq!(lookup("PING").unwrap().key_count(), KeyCount::None);
        assert_eq!(lookup("PUBLISH").unwrap().key_count(), KeyCount::None);
        assert_eq!(lookup("GET").unwrap().key_count(), KeyCount::One);
        assert_eq!(lookup("HSET").unwrap().key_count(), KeyCount::One);
        assert_eq!(lookup("MGET").unwrap().key_count(), KeyCount::Many);
        assert_eq!(lookup("EVAL").unwrap().key_count(), KeyCount::Many);
        assert_eq!(lookup("RENAME").unwrap().key_count(), KeyCount::Many);
        assert_eq!(lookup("GET").unwrap().max_keys(), Some(1));
        assert_eq!(lookup("RENAME").unwrap().max_keys(), Some(2));
        assert_eq!(lookup("MGET").unwrap().max_keys(), None);
        assert!(subcommands("CLIENT").any(|name| name == "CLIENT SETNAME"));
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
    fn key_positions_follow_the_key_specs() {
        assert_eq!(keys("GET", &["GET", "k"]), [1]);
        assert_eq!(keys("MSET", &["MSET", "a", "1", "b", "2"]), [1, 3]);
        assert_eq!(
            keys("EVAL", &["EVAL", "return 1", "2", "a", "b", "x"]),
            [3, 4]
        );
        assert_eq!(
            keys(
                "XREAD",
                &["XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0"]
            ),
            [4, 5]
        );
        assert_eq!(
            keys("ZUNIONSTORE", &["ZUNIONSTORE", "dst", "2", "a", "b"]),
            [1, 3, 4]
        );
        assert_eq!(keys("MIGRATE", &["MIGRATE", "h", "1", "k", "0", "5"]), [3]);
        // Malformed arguments never panic or point outside the arguments.
        assert_eq!(keys("EVAL", &["EVAL", "s", "99", "a"]), [3]);
        assert_eq!(keys("EVAL", &["EVAL"]), Vec::<usize>::new());
        assert_eq!(keys("XREAD", &["XREAD", "STREAMS"]), Vec::<usize>::new());
    }
}
