//! `db.query.text`: a command in Redis CLI form with every value replaced by `?`.
//!
//! Driven by the command table: the command (and subcommand) name is kept, arguments at key
//! positions are rendered by the key policy (`?` under `Omit`), arguments equal to one of the
//! command's syntax tokens (`EX`, `NX`, `WITHSCORES`, `STREAMS`, ...) are kept, and everything
//! else is `?`. Values are therefore never recorded, whatever they are. Commands that carry
//! credentials (`AUTH`, `HELLO ... AUTH`, `MIGRATE ... AUTH/AUTH2`, `CONFIG SET`,
//! `ACL SETUSER`) mask them under every policy, raw included.

use redis_trace_commands::{BeginSearch, Command, FindKeys, KeyRange, KeySpec};

use crate::args::command_name;
use crate::key::KeyPolicy;
use crate::text::TextBuf;

/// The sanitized statement of one command given as its arguments (`args[0]` is the name),
/// appended to `out` (at most `max_len` bytes appended), for the command the table says `args`
/// invoke (`known`).
pub(crate) fn sanitize_into<A: AsRef<[u8]>>(
    args: &[A],
    known: Option<&'static Command>,
    policy: &KeyPolicy,
    max_key_len: usize,
    max_len: usize,
    out: &mut TextBuf,
) {
    if args.is_empty() {
        return;
    }
    // No room reserved up front: statements are rendered into a reused buffer
    // (`intern::share_rendered`), which has the room after the first few.
    let start = out.len();
    let Some(command) = known else {
        // Unknown (module) command: its name, then only `?`.
        out.push_str(&command_name(args));
        for _ in &args[1..] {
            out.extend_ascii(b" ?");
        }
        out.truncate_appended(start, max_len);
        return;
    };
    // The most common shape, `NAME key` (GET, INCR, HGETALL, ...): the name and the key.
    if let [_, key] = args {
        if is_key_then_nothing(command) {
            out.push_str(command.name);
            out.push_ascii(b' ');
            if !policy.render_into(key.as_ref(), max_key_len, out) {
                out.push_ascii(b'?');
            }
            out.truncate_appended(start, max_len);
            return;
        }
    }
    let name_words = 1 + command.name.bytes().filter(|&byte| byte == b' ').count();
    let keys = KeyRanges::of(command, args);
    let masks_all = command.masks_every_argument();
    out.push_str(command.name);
    let mut credentials_left = 0_usize;
    for (position, argument) in args.iter().enumerate().skip(name_words) {
        if out.len() - start > max_len {
            break;
        }
        out.push_ascii(b' ');
        let argument = argument.as_ref();
        if credentials_left > 0 {
            credentials_left -= 1;
            out.push_ascii(b'?');
        } else if keys.contain(command, args, position) {
            if !policy.render_into(argument, max_key_len, out) {
                out.push_ascii(b'?');
            }
        } else if !masks_all && command.is_token(argument) {
            // Equal to an ASCII token but for case: ASCII.
            for &byte in argument {
                out.push_ascii(byte.to_ascii_uppercase());
            }
            credentials_left = command.credentials_after(argument);
        } else {
            out.push_ascii(b'?');
        }
    }
    out.truncate_appended(start, max_len);
}

/// Whether the command's one key specification is its first argument alone (then a call with
/// one argument is `NAME key`).
fn is_key_then_nothing(command: &Command) -> bool {
    matches!(
        command.key_specs,
        [KeySpec {
            begin: BeginSearch::Index(1),
            find: FindKeys::Range { last_key: 0, .. },
        }]
    )
}

/// Where a command's keys are: most commands have one or two key specifications, kept in
/// place (nothing allocated, nothing sorted); the rare command with more reads them again.
struct KeyRanges {
    first: [KeyRange; 4],
    len: usize,
    more: bool,
}

impl KeyRanges {
    fn of<A: AsRef<[u8]>>(command: &Command, args: &[A]) -> Self {
        let none = KeyRange {
            first: 1,
            last: 0,
            step: 1,
        };
        let mut ranges = Self {
            first: [none; 4],
            len: 0,
            more: false,
        };
        for range in command.key_ranges(args) {
            match ranges.first.get_mut(ranges.len) {
                Some(slot) => {
                    *slot = range;
                    ranges.len += 1;
                }
                None => ranges.more = true,
            }
        }
        ranges
    }

    fn contain<A: AsRef<[u8]>>(&self, command: &Command, args: &[A], position: usize) -> bool {
        self.first[..self.len]
            .iter()
            .any(|range| range.contains(position))
            || (self.more
                && command
                    .key_ranges(args)
                    .any(|range| range.contains(position)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis_trace_commands::{lookup_args, COMMANDS};

    /// The sanitized statement of one command given as its arguments (`args[0]` is the name), at
    /// most `max_len` bytes.
    pub(super) fn sanitize<A: AsRef<[u8]>>(
        args: &[A],
        policy: &KeyPolicy,
        max_key_len: usize,
        max_len: usize,
    ) -> String {
        let mut out = TextBuf::default();
        sanitize_into(
            args,
            lookup_args(args),
            policy,
            max_key_len,
            max_len,
            &mut out,
        );
        out.to_str().into_owned()
    }

    fn text(args: &[&str]) -> String {
        sanitize(args, &KeyPolicy::Pattern, 256, 2048)
    }

    #[test]
    fn values_become_placeholders() {
        assert_eq!(text(&["GET", "user:1"]), "GET user:?");
        assert_eq!(
            text(&["set", "user:1", "secret", "EX", "60", "NX"]),
            "SET user:? ? EX ? NX"
        );
        assert_eq!(
            text(&["HSET", "user:1", "name", "Ada", "email", "a@b.c"]),
            "HSET user:? ? ? ? ?"
        );
        assert_eq!(text(&["MSET", "a:1", "x", "b:2", "y"]), "MSET a:? ? b:? ?");
        assert_eq!(
            text(&["EVAL", "return 1", "2", "k:1", "k:2", "arg"]),
            "EVAL ? ? k:? k:? ?"
        );
        assert_eq!(
            text(&["XREAD", "COUNT", "5", "STREAMS", "s:1", "0"]),
            "XREAD COUNT ? STREAMS s:? ?"
        );
        assert_eq!(text(&["CLIENT", "SETNAME", "worker-7"]), "CLIENT SETNAME ?");
        assert_eq!(text(&["JSON.GET", "doc:1", "$.a"]), "JSON.GET ? ?");
    }

    /// Commands newer than Redis 7.0, from the table's newer sources: keys where they are,
    /// the syntax tokens the source lists, and nothing else.
    #[test]
    fn commands_of_current_servers() {
        // Redis 7.4 (Redis's command JSON): tokens known.
        assert_eq!(
            text(&["HEXPIRE", "user:1", "60", "NX", "FIELDS", "2", "email", "phone"]),
            "HEXPIRE user:? ? NX FIELDS ? ? ?"
        );
        // Redis 8.0 (@ioredis/commands): key positions known, no tokens listed.
        assert_eq!(
            text(&["HGETEX", "session:9", "EX", "60", "FIELDS", "1", "token"]),
            "HGETEX session:? ? ? ? ? ?"
        );
        assert_eq!(
            text(&["HSETEX", "session:9", "FIELDS", "1", "token", "abc"]),
            "HSETEX session:? ? ? ? ?"
        );
        assert_eq!(text(&["WAITAOF", "1", "0", "100"]), "WAITAOF ? ? ?");
        assert_eq!(text(&["CLIENT", "NO-TOUCH", "ON"]), "CLIENT NO-TOUCH ON");
    }

    #[test]
    fn credentials_are_masked_under_every_policy() {
        for policy in [KeyPolicy::Raw, KeyPolicy::Pattern, KeyPolicy::Omit] {
            let s = |args: &[&str]| sanitize(args, &policy, 256, 2048);
            assert_eq!(s(&["AUTH", "admin", "hunter2"]), "AUTH ? ?");
            assert_eq!(
                s(&["HELLO", "3", "AUTH", "admin", "hunter2", "SETNAME", "n"]),
                "HELLO ? AUTH ? ? SETNAME ?"
            );
            assert_eq!(
                s(&["CONFIG", "SET", "requirepass", "hunter2"]),
                "CONFIG SET ? ?"
            );
            assert_eq!(
                s(&["ACL", "SETUSER", "bob", "on", ">hunter2"]),
                "ACL SETUSER ? ? ?"
            );
            assert!(
                !s(&["MIGRATE", "h", "1", "", "0", "5", "AUTH2", "u", "hunter2", "KEYS", "k"])
                    .contains("hunter2")
            );
        }
    }

    #[test]
    fn capped() {
        let keys: Vec<String> = (0..10_000).map(|i| format!("key{i}")).collect();
        let mut args = vec!["DEL".to_owned()];
        args.extend(keys);
        assert!(sanitize(&args, &KeyPolicy::Raw, 256, 100).len() <= 100);
    }

    #[test]
    fn unknown_names() {
        assert_eq!(text(&["\u{7}x", "secret"]), "UNKNOWN ?");
    }

    // Every command of the table: no value under the default key policy, no credential under
    // any policy.

    fn policies() -> Vec<(&'static str, KeyPolicy)> {
        vec![
            ("pattern", KeyPolicy::Pattern),
            ("hash", KeyPolicy::hash_with_secret("test")),
            ("raw", KeyPolicy::Raw),
            ("omit", KeyPolicy::Omit),
            (
                "custom",
                KeyPolicy::custom(|key| Some(String::from_utf8_lossy(key).into_owned())),
            ),
        ]
    }

    #[test]
    fn no_value_of_any_command_reaches_the_statement() {
        let mut checked = 0;
        for command in COMMANDS {
            let mut args: Vec<String> = command.name.split(' ').map(str::to_owned).collect();
            let names = args.len();
            let count = usize::from(command.arity.unsigned_abs())
                .saturating_sub(names)
                .max(8);
            args.extend((0..count).map(|i| format!("secretvalue{i}x")));
            let keys = command.key_positions(&args);
            let text = sanitize(&args, &KeyPolicy::Pattern, 256, 1 << 20);
            assert!(text.starts_with(command.name), "{text}");
            for (position, value) in args.iter().enumerate().skip(names) {
                if keys.contains(&position) {
                    continue;
                }
                assert!(
                    !text.contains(value.as_str()),
                    "{}: value {value} leaked: {text}",
                    command.name
                );
            }
            // The number of arguments is preserved: one placeholder or key per argument.
            assert_eq!(text.split(' ').count(), args.len(), "{text}");
            checked += 1;
        }
        assert!(checked > 300, "only {checked} commands checked");
    }

    #[test]
    fn no_credential_under_any_policy() {
        const SECRET: &str = "hunter2secret";
        let statements: Vec<Vec<&str>> = vec![
            vec!["AUTH", SECRET],
            vec!["AUTH", "admin", SECRET],
            vec!["HELLO", "3", "AUTH", "admin", SECRET, "SETNAME", "app"],
            vec!["CONFIG", "SET", "requirepass", SECRET],
            vec!["CONFIG", "SET", "masterauth", SECRET, "maxmemory", "1gb"],
            vec![
                "ACL",
                "SETUSER",
                "bob",
                "on",
                &">hunter2secret",
                "~*",
                "+@all",
            ],
            vec![
                "MIGRATE", "10.0.0.1", "6379", "", "0", "5000", "AUTH", SECRET, "KEYS", "a", "b",
            ],
            vec![
                "MIGRATE", "10.0.0.1", "6379", "", "0", "5000", "AUTH2", "admin", SECRET, "KEYS",
                "a",
            ],
        ];
        for (name, policy) in policies() {
            for statement in &statements {
                let text = sanitize(statement, &policy, 256, 4096);
                assert!(!text.contains(SECRET), "{name}: {text}");
                assert!(!text.contains("admin"), "{name}: {text}");
            }
        }
    }

    #[test]
    fn documented_examples() {
        let text = |args: &[&str]| sanitize(args, &KeyPolicy::Pattern, 256, 2048);
        assert_eq!(
            text(&["HSET", "user:42", "name", "Ada", "email", "ada@example.com"]),
            "HSET user:? ? ? ? ?"
        );
        assert_eq!(
            text(&[
                "SET",
                "session:9f8e7d6c5b4a3921",
                "token",
                "PX",
                "3000",
                "XX"
            ]),
            "SET session:? ? PX ? XX"
        );
        assert_eq!(text(&["MGET", "user:1", "user:2"]), "MGET user:? user:?");
        assert_eq!(
            text(&["ZRANGE", "board", "0", "-1", "WITHSCORES"]),
            "ZRANGE board ? ? WITHSCORES"
        );
        assert_eq!(
            sanitize(&["GET", "user:42"], &KeyPolicy::Omit, 256, 2048),
            "GET ?"
        );
        assert!(sanitize(&["GET", "user:42"], &KeyPolicy::Raw, 256, 8).len() <= 8);
    }
}

/// Property tests (proptest): arbitrary argument lists with a marker in every value: never a
/// value or a credential in the statement, always within the cap.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use redis_trace_commands::COMMANDS;

    use super::tests::sanitize;
    use crate::key::KeyPolicy;

    /// Cases per property: enough to walk the command table many times over.
    const CASES: u32 = 1024;

    /// A marker placed in every value: it must never reach the output.
    const SECRET: &[u8] = b"Zq9secret";

    /// A command name from the table (with its subcommand) or arbitrary bytes.
    fn command_name() -> impl Strategy<Value = Vec<Vec<u8>>> {
        prop_oneof![
            (0..COMMANDS.len()).prop_map(|index| {
                COMMANDS[index]
                    .name
                    .split(' ')
                    .map(|part| part.as_bytes().to_vec())
                    .collect()
            }),
            proptest::collection::vec(any::<u8>(), 0..12).prop_map(|name| vec![name]),
        ]
    }

    /// A value carrying the marker among arbitrary bytes.
    fn secret_value() -> impl Strategy<Value = Vec<u8>> {
        (
            proptest::collection::vec(any::<u8>(), 0..24),
            proptest::collection::vec(any::<u8>(), 0..24),
        )
            .prop_map(|(before, after)| [before, SECRET.to_vec(), after].concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

        #[test]
        fn statements_never_show_a_value_and_stay_within_the_cap(
            name in command_name(),
            values in proptest::collection::vec(secret_value(), 0..12),
            max_len in 1usize..400,
        ) {
            let args: Vec<Vec<u8>> = name.into_iter().chain(values).collect();
            // Keys hashed or omitted: nothing of any argument but the command's own name and
            // syntax tokens may appear.
            for policy in [KeyPolicy::hash_with_secret("test"), KeyPolicy::Omit] {
                let text = sanitize(&args, &policy, 64, max_len);
                prop_assert!(text.len() <= max_len, "{} > {max_len}", text.len());
                prop_assert!(!text.contains("Zq9secret"), "{text}");
            }
        }

        #[test]
        fn credentials_never_appear_even_with_raw_keys(
            password in "[a-zA-Z0-9]{8,24}",
            user in "[a-z]{3,8}",
        ) {
            let password = format!("pw{password}");
            let commands: Vec<Vec<&str>> = vec![
                vec!["AUTH", &password],
                vec!["AUTH", &user, &password],
                vec!["HELLO", "3", "AUTH", &user, &password],
                vec!["CONFIG", "SET", "requirepass", &password],
                vec!["ACL", "SETUSER", &user, "on", &password],
                vec!["MIGRATE", "host", "6379", "", "0", "5000", "AUTH2", &user, &password, "KEYS", "k"],
                vec!["MIGRATE", "host", "6379", "k", "0", "5000", "AUTH", &password],
            ];
            for args in commands {
                let text = sanitize(&args, &KeyPolicy::Raw, 256, 2048);
                prop_assert!(!text.contains(&password), "{text}");
            }
        }
    }

    /// Sizes no generator reaches: a 10 MB value, 100 000 arguments.
    #[test]
    fn pathological_statements_stay_bounded() {
        let huge = vec![b'x'; 10 * 1024 * 1024];
        let mut args: Vec<Vec<u8>> = vec![b"SET".to_vec(), b"k".to_vec(), huge];
        assert!(sanitize(&args, &KeyPolicy::Raw, 256, 2048).len() <= 2048);
        args = std::iter::once(b"MSET".to_vec())
            .chain((0..100_000).map(|i| format!("k{i}").into_bytes()))
            .collect();
        let text = sanitize(&args, &KeyPolicy::Pattern, 256, 2048);
        assert!(text.len() <= 2048, "{}", text.len());
    }
}
