//! `db.query.text` never shows a value under the default key policy, and never a credential
//! under any policy: checked for every command and subcommand of the command table.

use redis_trace::commands::COMMANDS;
use redis_trace::statement::sanitize;
use redis_trace::KeyPolicy;

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
            "MIGRATE", "10.0.0.1", "6379", "", "0", "5000", "AUTH2", "admin", SECRET, "KEYS", "a",
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
