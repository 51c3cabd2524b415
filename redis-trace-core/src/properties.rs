//! Property tests (proptest) on what turns user data into telemetry: key rendering under every
//! policy, statement sanitizing, and the blocking API's RESP reader. Arbitrary bytes and
//! argument lists, and pathological sizes: never a panic, always valid UTF-8 within the caps,
//! never a value or a credential in the output.

use proptest::prelude::*;

use crate::connection::resp::parse_commands;
use crate::key::KeyPolicy;
use crate::statement::sanitize;
use redis_trace_commands::COMMANDS;

/// Cases per property: enough to walk the command table many times over.
const CASES: u32 = 1024;

/// A marker placed in every value: it must never reach the output.
const SECRET: &[u8] = b"Zq9secret";

fn policies() -> Vec<KeyPolicy> {
    vec![
        KeyPolicy::Pattern,
        KeyPolicy::hash_with_secret("test"),
        KeyPolicy::Raw,
        KeyPolicy::Omit,
        KeyPolicy::custom(|key| Some(String::from_utf8_lossy(key).repeat(3))),
    ]
}

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
    fn a_key_renders_as_capped_utf8_under_every_policy(
        key in proptest::collection::vec(any::<u8>(), 0..600),
        max_len in 0usize..300,
    ) {
        for policy in policies() {
            if let Some(rendered) = policy.render(&key, max_len) {
                prop_assert!(rendered.len() <= max_len.max(18), "{} > {max_len}", rendered.len());
                prop_assert!(!rendered.chars().any(char::is_control), "{rendered:?}");
            }
        }
    }

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

    #[test]
    fn the_resp_reader_reads_anything_without_panicking(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let commands = parse_commands(&bytes);
        let total: usize = commands.iter().flatten().map(|arg| arg.len()).sum();
        prop_assert!(total <= bytes.len());
    }

    #[test]
    fn the_resp_reader_reads_back_what_redis_rs_packs(
        commands in proptest::collection::vec(
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..6),
            1..4,
        ),
    ) {
        let mut pipeline = redis::pipe();
        for args in &commands {
            let mut cmd = redis::Cmd::new();
            for arg in args {
                cmd.arg(arg.as_slice());
            }
            pipeline.add_command(cmd);
        }
        let packed = pipeline.get_packed_pipeline();
        let read: Vec<Vec<Vec<u8>>> = parse_commands(&packed)
            .into_iter()
            .map(|args| args.into_iter().map(<[u8]>::to_vec).collect())
            .collect();
        prop_assert_eq!(read, commands);
    }
}

/// Sizes no generator reaches: a 10 MB value, 100 000 arguments, a deeply nested array.
#[test]
fn pathological_inputs_stay_bounded() {
    let huge = vec![b'x'; 10 * 1024 * 1024];
    for policy in policies() {
        if let Some(rendered) = policy.render(&huge, 256) {
            assert!(rendered.len() <= 256 * 3, "{}", rendered.len());
        }
    }
    let mut args: Vec<Vec<u8>> = vec![b"SET".to_vec(), b"k".to_vec(), huge.clone()];
    assert!(sanitize(&args, &KeyPolicy::Raw, 256, 2048).len() <= 2048);
    args = std::iter::once(b"MSET".to_vec())
        .chain((0..100_000).map(|i| format!("k{i}").into_bytes()))
        .collect();
    let text = sanitize(&args, &KeyPolicy::Pattern, 256, 2048);
    assert!(text.len() <= 2048, "{}", text.len());
    // 100 000 nested array headers and a 10 MB bulk string: read or refused, never a panic.
    let nested = b"*1\r\n".repeat(100_000);
    let _ = parse_commands(&nested);
    let mut big = b"*1\r\n$10485760\r\n".to_vec();
    big.extend_from_slice(&huge);
    big.extend_from_slice(b"\r\n");
    let read = parse_commands(&big);
    assert_eq!(read[0][0].len(), huge.len());
}

/// The pattern policy as first written, several passes per segment: the one-pass version must
/// agree with it on every key.
fn pattern_reference(key: &[u8]) -> String {
    const SEPARATORS: &[char] = &[':', '/', '|', '#', '{', '}', ',', ';', '=', ' '];
    fn looks_like_an_id(segment: &str) -> bool {
        if segment.is_empty() {
            return false;
        }
        let digits = segment.bytes().filter(u8::is_ascii_digit).count();
        let letters = segment.bytes().filter(u8::is_ascii_alphabetic).count();
        let hex = segment.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
        segment
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+'))
            || (hex && segment.len() >= 12 && digits > 0)
            || segment.contains('@')
            || (segment.len() >= 20 && digits > 0 && letters > 0)
            || segment.chars().any(|c| c.is_control() || !c.is_ascii())
    }
    let Ok(text) = std::str::from_utf8(key) else {
        return "?".into();
    };
    text.split(SEPARATORS)
        .map(|segment| {
            if looks_like_an_id(segment) {
                "?"
            } else {
                segment
            }
        })
        .zip(
            text.matches(SEPARATORS)
                .map(Some)
                .chain(std::iter::once(None)),
        )
        .map(|(segment, separator)| format!("{segment}{}", separator.unwrap_or("")))
        .collect()
}

/// Keys made of segments near the id rules' edges (numbers with `.-+`, hex with `-` around 12
/// bytes, letter-digit tokens around 20 bytes, `@`, control characters, non-ASCII text) joined
/// by separators; and arbitrary bytes, invalid UTF-8 included.
fn pattern_key() -> impl Strategy<Value = Vec<u8>> {
    let from =
        |alphabet: &'static [u8]| proptest::collection::vec(prop::sample::select(alphabet), 0..26);
    let segment = prop_oneof![
        from(b"0123456789.-+"),
        from(b"0123456789abcdefABCDEF-"),
        from(b"0123456789abcdefABCDEF-+."),
        from(b"0123456789ghxyzGHXYZ_"),
        from(b"0123456789aZ@._\x00\x1f\x7f\xc3\xa9"),
    ];
    prop_oneof![
        proptest::collection::vec(
            (segment, prop::sample::select(b":/|#{},;= ".to_vec())),
            0..5
        )
        .prop_map(|parts| {
            parts
                .into_iter()
                .flat_map(|(mut segment, separator)| {
                    segment.push(separator);
                    segment
                })
                .collect()
        }),
        proptest::collection::vec(any::<u8>(), 0..48),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES * 4))]

    #[test]
    fn the_one_pass_pattern_agrees_with_the_reference(key in pattern_key()) {
        prop_assert_eq!(
            KeyPolicy::Pattern.render(&key, usize::MAX / 2),
            Some(pattern_reference(&key))
        );
    }
}
