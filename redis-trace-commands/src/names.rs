//! Names the attribute and the runtime must agree on: the key policies that have a name, and
//! the attribute namespaces redis-trace writes itself.

/// The key policies that have a name: what `key_policy = "..."` on the attribute and the
/// `REDIS_TRACE_KEY_POLICY` variable accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyPolicyName {
    /// `"pattern"`: id-like segments replaced by `?`.
    Pattern,
    /// `"hash"`: a keyed hash of the key.
    Hash,
    /// `"raw"`: the key as it is.
    Raw,
    /// `"omit"`: no key.
    Omit,
}

impl KeyPolicyName {
    /// Every name, as written on the attribute and in the environment.
    pub const ALL: [(&'static str, Self); 4] = [
        ("pattern", Self::Pattern),
        ("hash", Self::Hash),
        ("raw", Self::Raw),
        ("omit", Self::Omit),
    ];

    /// The policy named `name` (case-insensitive). `const`: a callsite's static names its
    /// policy, and an unknown name fails its compilation.
    #[must_use]
    pub const fn from_name(name: &str) -> Option<Self> {
        let mut index = 0;
        while index < Self::ALL.len() {
            let (written, policy) = Self::ALL[index];
            if eq_ignore_ascii_case(written.as_bytes(), name.as_bytes()) {
                return Some(policy);
            }
            index += 1;
        }
        None
    }

    /// The name as written.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pattern => "pattern",
            Self::Hash => "hash",
            Self::Raw => "raw",
            Self::Omit => "omit",
        }
    }
}

/// `<[u8]>::eq_ignore_ascii_case`, usable in `const`.
const fn eq_ignore_ascii_case(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut index = 0;
    while index < a.len() {
        if !a[index].eq_ignore_ascii_case(&b[index]) {
            return false;
        }
        index += 1;
    }
    true
}

/// The attribute namespaces redis-trace writes itself: a user's `fields(...)` must not name an
/// attribute in them, and every attribute the runtime writes is in one of them (the core's
/// tests check its names against this list).
pub const RESERVED_ATTRIBUTE_NAMESPACES: &[&str] = &[
    "cache.",
    "code.",
    "db.",
    "error.",
    "messaging.",
    "net.",
    "network.",
    "redis.",
    "server.",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names_read_back() {
        for (name, policy) in KeyPolicyName::ALL {
            assert_eq!(KeyPolicyName::from_name(name), Some(policy));
            assert_eq!(policy.as_str(), name);
        }
        assert_eq!(KeyPolicyName::from_name("HASH"), Some(KeyPolicyName::Hash));
        assert_eq!(KeyPolicyName::from_name("hashed"), None);
    }
}
