//! `db.query.text`: a command in Redis CLI form with every value replaced by `?`.
//!
//! Driven by the command table: the command (and subcommand) name is kept, arguments at key
//! positions are rendered by the key policy (`?` under `Omit`), arguments equal to one of the
//! command's syntax tokens (`EX`, `NX`, `WITHSCORES`, `STREAMS`, ...) are kept, and everything
//! else is `?`. Values are therefore never recorded, whatever they are. Commands that carry
//! credentials (`AUTH`, `HELLO ... AUTH`, `MIGRATE ... AUTH/AUTH2`, `CONFIG SET`,
//! `ACL SETUSER`) mask them under every policy, raw included.

use redis_trace_commands::{lookup_args, Command};

use crate::key::KeyPolicy;
use crate::outcome::truncate_on_char_boundary;

/// Commands whose arguments are all masked, tokens included.
const ALL_MASKED: &[&str] = &["AUTH", "ACL SETUSER", "CONFIG SET"];

/// The sanitized statement of one command given as its arguments (`args[0]` is the name), at
/// most `max_len` bytes.
#[must_use]
pub fn sanitize<A: AsRef<[u8]>>(
    args: &[A],
    policy: &KeyPolicy,
    max_key_len: usize,
    max_len: usize,
) -> String {
    let Some(first) = args.first() else {
        return String::new();
    };
    let Some(command) = lookup_args(args) else {
        // Unknown (module) command: its name, then only `?`.
        let mut out = display_name(first.as_ref());
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

fn display_name(name: &[u8]) -> String {
    let name = String::from_utf8_lossy(name);
    if name.chars().all(|c| c.is_ascii_graphic()) {
        name.to_ascii_uppercase()
    } else {
        "?".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
