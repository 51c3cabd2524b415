//! `db.query.text`: a command in Redis CLI form with every value replaced by `?`.
//!
//! Driven by the command table: the command (and subcommand) name is kept, arguments at key
//! positions are rendered by the key policy (`?` under `Omit`), arguments equal to one of the
//! command's syntax tokens (`EX`, `NX`, `WITHSCORES`, `STREAMS`, ...) are kept, and everything
//! else is `?`. Values are therefore never recorded, whatever they are. Commands that carry
//! credentials (`AUTH`, `HELLO ... AUTH`, `MIGRATE ... AUTH/AUTH2`, `CONFIG SET`,
//! `ACL SETUSER`) mask them under every policy, raw included.

use std::borrow::Cow;

use redis_trace_commands::{lookup_args, Command};

use crate::key::KeyPolicy;
use crate::text::truncate_on_char_boundary;

/// Commands whose arguments are all masked, tokens included.
const ALL_MASKED: &[&str] = &["AUTH", "ACL SETUSER", "CONFIG SET"];

/// The sanitized statement of one command given as its arguments (`args[0]` is the name), at
/// most `max_len` bytes.
pub(crate) fn sanitize<A: AsRef<[u8]>>(
    args: &[A],
    policy: &KeyPolicy,
    max_key_len: usize,
    max_len: usize,
) -> String {
    if args.is_empty() {
        return String::new();
    }
    let Some(command) = lookup_args(args) else {
        // Unknown (module) command: its name, then only `?`.
        let mut out = command_name(args).into_owned();
        for _ in &args[1..] {
            out.push_str(" ?");
        }
        return truncate_on_char_boundary(&out, max_len).to_owned();
    };
    let name_words = 1 + command.name.matches(' ').count();
    let keys = command.key_positions(args);
    let masks_all = ALL_MASKED.contains(&command.name);
    let mut out = String::from(command.name);
    let mut credentials_left = 0_usize;
    for (position, argument) in args.iter().enumerate().skip(name_words) {
        if out.len() > max_len {
            break;
        }
        out.push(' ');
        let argument = argument.as_ref();
        if credentials_left > 0 {
            credentials_left -= 1;
            out.push('?');
        } else if keys.binary_search(&position).is_ok() {
            match policy.render(argument, max_key_len) {
                Some(key) => out.push_str(&key),
                None => out.push('?'),
            }
        } else if !masks_all && command.is_token(argument) {
            out.push_str(&String::from_utf8_lossy(argument).to_ascii_uppercase());
            credentials_left = credentials_after(command, argument);
        } else {
            out.push('?');
        }
    }
    truncate_on_char_boundary(&out, max_len).to_owned()
}

/// How many arguments after `token` are credentials: `HELLO .. AUTH user pass`,
/// `MIGRATE .. AUTH pass`, `MIGRATE .. AUTH2 user pass`.
fn credentials_after(command: &Command, token: &[u8]) -> usize {
    match (command.name, token.to_ascii_uppercase().as_slice()) {
        ("HELLO", b"AUTH") | ("MIGRATE", b"AUTH2") => 2,
        ("MIGRATE", b"AUTH") => 1,
        _ => 0,
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use redis_trace_commands::COMMANDS;

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
    fn command_names() {
        assert_eq!(command_name(&["get", "k"]), "GET");
        assert_eq!(command_name(&["client", "setname", "n"]), "CLIENT SETNAME");
        assert_eq!(command_name(&["json.get", "k"]), "JSON.GET");
        assert_eq!(command_name(&["bad name"]), "UNKNOWN");
        assert_eq!(command_name::<&str>(&[]), "UNKNOWN");
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
