//! Keys in telemetry: what a key may reveal, decided by a [`KeyPolicy`].
//!
//! Keys are user data (`user:42:email`, `session:<token>`). The default policy, `Pattern`, keeps
//! a key's shape and replaces the segments that look like identifiers with `?`, so keys group
//! well and reveal no ids. Every rendering is valid UTF-8 with control characters escaped, and
//! is capped in length.

use std::fmt;
use std::fmt::Write as _;
use std::sync::Arc;

use redis_trace_commands::KeyPolicyName;

use crate::text::TextBuf;

mod pattern;
mod template;

use self::pattern::pattern;
pub use self::template::KeyTemplate;

/// A Redis key (used by generated code): anything redis-rs accepts as an argument (`&str`, `String`, `Vec<u8>`, numbers).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as a Redis key",
    label = "not a Redis key",
    note = "a key is anything redis-rs accepts as an argument (`redis::ToRedisArgs`): `&str`, `String`, `Vec<u8>`, integers; pass a field (`key = id.0`) or a formatted string"
)]
pub trait RedisKey {
    /// Calls `visit` with the bytes sent to Redis, once per argument the key expands to.
    fn visit_args(&self, visit: &mut dyn FnMut(&[u8]));

    /// The key's rendering under the pattern policy, when it is known without looking at the
    /// key (a template's, computed at compile time).
    fn pattern(&self) -> Option<&'static str> {
        None
    }
}

impl<T: redis::ToRedisArgs> RedisKey for T {
    fn visit_args(&self, visit: &mut dyn FnMut(&[u8])) {
        // Borrowed straight from the value where redis-rs allows it: no `Vec<Vec<u8>>`.
        self.write_redis_args(&mut ArgVisitor { visit });
    }
}

/// A `RedisWrite` that hands each argument to a closure instead of collecting it.
struct ArgVisitor<'a> {
    visit: &'a mut dyn FnMut(&[u8]),
}

impl redis::RedisWrite for ArgVisitor<'_> {
    fn write_arg(&mut self, arg: &[u8]) {
        (self.visit)(arg);
    }

    fn write_arg_fmt(&mut self, arg: impl fmt::Display) {
        // Numbers and other `Display` keys: formatted on the stack when they fit.
        let mut buffer = StackBuffer::default();
        if write!(buffer, "{arg}").is_ok() {
            (self.visit)(buffer.as_bytes());
        } else {
            (self.visit)(arg.to_string().as_bytes());
        }
    }

    fn writer_for_next_arg(&mut self) -> impl std::io::Write + '_ {
        ArgWriter {
            bytes: Vec::new(),
            visitor: self,
        }
    }
}

/// Collects one argument written through `std::io::Write`, visited when dropped.
struct ArgWriter<'a, 'b> {
    bytes: Vec<u8>,
    visitor: &'a mut ArgVisitor<'b>,
}

impl std::io::Write for ArgWriter<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for ArgWriter<'_, '_> {
    fn drop(&mut self) {
        (self.visitor.visit)(&self.bytes);
    }
}

/// 40 bytes on the stack: enough for any integer or float; longer text fails the write.
struct StackBuffer {
    bytes: [u8; 40],
    len: usize,
}

impl Default for StackBuffer {
    fn default() -> Self {
        Self {
            bytes: [0; 40],
            len: 0,
        }
    }
}

impl StackBuffer {
    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl fmt::Write for StackBuffer {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let end = self.len + text.len();
        let room = self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?;
        room.copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// A user-supplied key renderer: `None` leaves the key out.
pub type KeyRenderer = Arc<dyn Fn(&[u8]) -> Option<String> + Send + Sync>;

/// How keys appear in telemetry.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum KeyPolicy {
    /// The key's shape: segments that look like ids (numbers, UUIDs, long hex, e-mail
    /// addresses, long random tokens) become `?`: `user:12345:profile` → `user:?:profile`.
    #[default]
    Pattern,
    /// A stable keyed hash (SipHash-1-3, 64 bits, hex, prefixed `h:`): equal keys group without
    /// revealing them. Set a secret key (`REDIS_TRACE_HASH_KEY`) so ids cannot be guessed back.
    Hash {
        /// The 128-bit SipHash key.
        key: [u8; 16],
    },
    /// The key as it is (escaped and capped). Opt-in: keys may hold personal data.
    Raw,
    /// No key at all; statements show `?` where the key was.
    Omit,
    /// Your own renderer; its output is escaped and capped too.
    Custom(KeyRenderer),
}

impl fmt::Debug for KeyPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pattern => KeyPolicyName::Pattern.fmt(f),
            Self::Hash { .. } => KeyPolicyName::Hash.fmt(f),
            Self::Raw => KeyPolicyName::Raw.fmt(f),
            Self::Omit => KeyPolicyName::Omit.fmt(f),
            Self::Custom(_) => f.write_str("Custom"),
        }
    }
}

impl KeyPolicy {
    /// `pattern`, `hash`, `raw` or `omit` (case-insensitive); `hash` uses `hash_key` (any
    /// string, stretched to 16 bytes) or a built-in key.
    pub(crate) fn from_name(name: &str, hash_key: Option<&str>) -> Option<Self> {
        Some(match KeyPolicyName::from_name(name.trim())? {
            KeyPolicyName::Pattern => Self::Pattern,
            KeyPolicyName::Hash => Self::hash_with_secret(hash_key.unwrap_or(DEFAULT_HASH_SECRET)),
            KeyPolicyName::Raw => Self::Raw,
            KeyPolicyName::Omit => Self::Omit,
        })
    }

    /// The `Hash` policy keyed by `secret` (any length).
    #[must_use]
    pub fn hash_with_secret(secret: &str) -> Self {
        let digest = siphash(&[0; 16], secret.as_bytes());
        let second = siphash(&[1; 16], secret.as_bytes());
        let mut key = [0; 16];
        key[..8].copy_from_slice(&digest.to_le_bytes());
        key[8..].copy_from_slice(&second.to_le_bytes());
        Self::Hash { key }
    }

    /// A custom renderer.
    pub fn custom(render: impl Fn(&[u8]) -> Option<String> + Send + Sync + 'static) -> Self {
        Self::Custom(Arc::new(render))
    }

    /// The key as telemetry shows it, at most `max_len` bytes; `None` under `Omit` (a preview
    /// of what spans will record).
    ///
    /// ```
    /// use redis_trace::KeyPolicy;
    ///
    /// assert_eq!(KeyPolicy::Pattern.render(b"user:42:cart", 256).as_deref(), Some("user:?:cart"));
    /// ```
    #[must_use]
    pub fn render(&self, key: &[u8], max_len: usize) -> Option<String> {
        let mut out = TextBuf::default();
        (self.render_into(key, max_len, &mut out)).then(|| out.to_str().into_owned())
    }

    /// Appends the key as telemetry shows it to `out`, at most `max_len` bytes; `false` (and
    /// nothing appended) under `Omit` or when a custom renderer leaves the key out.
    pub(crate) fn render_into(&self, key: &[u8], max_len: usize, out: &mut TextBuf) -> bool {
        let start = out.len();
        // Rendering stops soon after the cap: a 1 MiB key costs no 1 MiB of work.
        let limit = start + max_len;
        match self {
            Self::Pattern => pattern(key, out, limit),
            Self::Hash { key: secret } => {
                let _ = write!(out, "h:{:016x}", siphash(secret, key));
            }
            Self::Raw => escape(key, out, limit),
            Self::Omit => return false,
            Self::Custom(render) => match render(key) {
                Some(rendered) => escape(rendered.as_bytes(), out, limit),
                None => return false,
            },
        }
        out.truncate_appended(start, max_len);
        true
    }
}

/// Used by `KeyPolicy::from_name("hash", None)`: stable, but public; set your own.
const DEFAULT_HASH_SECRET: &str = "redis-trace default key hash secret";

fn siphash(key: &[u8; 16], data: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut hasher = siphasher::sip::SipHasher13::new_with_key(key);
    hasher.write(data);
    hasher.finish()
}

/// Valid UTF-8 kept (control characters escaped), other bytes as `\xNN`.
fn escape(bytes: &[u8], out: &mut TextBuf, limit: usize) {
    for chunk in bytes.utf8_chunks() {
        if out.len() > limit {
            return;
        }
        for c in chunk.valid().chars() {
            if out.len() > limit {
                return;
            }
            if c.is_control() {
                c.escape_default().for_each(|c| out.push_char(c));
            } else {
                out.push_char(c);
            }
        }
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_hides_ids_and_keeps_shape() {
        let cases: &[(&[u8], &str)] = &[
            (b"user:12345:profile", "user:?:profile"),
            (b"session:550e8400-e29b-41d4-a716-446655440000", "session:?"),
            (b"cache/deadbeefcafe1234/v2", "cache/?/v2"),
            (b"invite:ada@example.com", "invite:?"),
            (b"token:Zx81kQp02LmNn7Ty55Aa", "token:?"),
            (b"rate:{tenant}:3.5", "rate:{tenant}:?"),
            (b"plain", "plain"),
            (b"", ""),
            (b"bin\xff\xfe", "?"),
            (b"ctl:a\nb", "ctl:?"),
            (b"caf\xc3\xa9:1", "?:?"),
        ];
        for (key, expected) in cases {
            assert_eq!(
                KeyPolicy::Pattern.render(key, 256).as_deref(),
                Some(*expected),
                "{key:?}"
            );
        }
    }

    #[test]
    fn raw_escapes_and_everything_is_capped() {
        assert_eq!(
            KeyPolicy::Raw.render(b"a\nb\xff", 256).as_deref(),
            Some("a\\nb\\xff")
        );
        let huge = vec![b'k'; 1 << 20];
        for policy in [
            KeyPolicy::Pattern,
            KeyPolicy::Raw,
            KeyPolicy::hash_with_secret("s"),
        ] {
            assert!(policy.render(&huge, 64).unwrap().len() <= 64);
        }
        let custom = KeyPolicy::custom(|key| Some(format!("len={}\u{7}", key.len())));
        assert_eq!(custom.render(b"abc", 256).as_deref(), Some("len=3\\u{7}"));
        assert_eq!(KeyPolicy::Omit.render(b"abc", 256), None);
    }

    #[test]
    fn names_are_read_in_any_case() {
        assert!(matches!(
            KeyPolicy::from_name(" Omit ", None),
            Some(KeyPolicy::Omit)
        ));
        assert!(matches!(
            KeyPolicy::from_name("HASH", None),
            Some(KeyPolicy::Hash { .. })
        ));
        assert!(KeyPolicy::from_name("patern", None).is_none());
        assert_eq!(format!("{:?}", KeyPolicy::Raw), "Raw");
    }

    fn visited(key: &dyn RedisKey) -> Vec<Vec<u8>> {
        let mut args = Vec::new();
        key.visit_args(&mut |arg| args.push(arg.to_vec()));
        args
    }

    #[test]
    fn keys_are_visited_as_redis_sends_them() {
        assert_eq!(visited(&"user:1"), [b"user:1".to_vec()]);
        assert_eq!(visited(&42_u64), [b"42".to_vec()]);
        assert_eq!(visited(&-1.5_f64), [b"-1.5".to_vec()]);
        assert_eq!(visited(&vec![0xff_u8, 0]), [vec![0xff, 0]]);
        assert_eq!(visited(&vec!["a", "b"]), [b"a".to_vec(), b"b".to_vec()]);
        // Whatever redis-rs itself sends, for values of every shape.
        fn same_as_redis_rs(key: impl redis::ToRedisArgs) {
            assert_eq!(visited(&key), key.to_redis_args());
        }
        same_as_redis_rs(f64::MIN);
        same_as_redis_rs(i128::MIN);
        same_as_redis_rs(("a", 7_u8));
    }

    #[test]
    fn hash_is_stable_and_keyed() {
        let a = KeyPolicy::hash_with_secret("one");
        let b = KeyPolicy::hash_with_secret("two");
        assert_eq!(a.render(b"user:1", 256), a.render(b"user:1", 256));
        assert_ne!(a.render(b"user:1", 256), a.render(b"user:2", 256));
        assert_ne!(a.render(b"user:1", 256), b.render(b"user:1", 256));
        assert!(a.render(b"user:1", 256).unwrap().starts_with("h:"));
    }
}

/// Property tests (proptest): any key under any policy renders as capped, escaped UTF-8; the
/// one-pass pattern agrees with its first, several-pass definition.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::KeyPolicy;

    /// Cases per property.
    const CASES: u32 = 1024;

    fn policies() -> Vec<KeyPolicy> {
        vec![
            KeyPolicy::Pattern,
            KeyPolicy::hash_with_secret("test"),
            KeyPolicy::Raw,
            KeyPolicy::Omit,
            KeyPolicy::custom(|key| Some(String::from_utf8_lossy(key).repeat(3))),
        ]
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
    }

    /// A 10 MB key: rendered within the cap under every policy.
    #[test]
    fn a_huge_key_stays_bounded() {
        let huge = vec![b'x'; 10 * 1024 * 1024];
        for policy in policies() {
            if let Some(rendered) = policy.render(&huge, 256) {
                assert!(rendered.len() <= 256 * 3, "{}", rendered.len());
            }
        }
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
        let from = |alphabet: &'static [u8]| {
            proptest::collection::vec(prop::sample::select(alphabet), 0..26)
        };
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
        fn the_one_pass_pattern_agrees_with_the_reference(
            key in pattern_key(),
            max_len in 0usize..48,
        ) {
            let reference = pattern_reference(&key);
            prop_assert_eq!(
                KeyPolicy::Pattern.render(&key, usize::MAX / 2),
                Some(reference.clone())
            );
            // Capped: rendering stops early, and says the same up to the cap.
            let capped = crate::text::truncate_on_char_boundary(&reference, max_len);
            let rendered = KeyPolicy::Pattern.render(&key, max_len);
            prop_assert_eq!(rendered.as_deref(), Some(capped));
        }
    }
}
