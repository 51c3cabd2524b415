//! Keys written as templates on the attribute: `key = "user:{id}:profile"`.
//!
//! The macro splits the template at compile time into its literal pieces and the placeholder
//! values, and computes its `pattern` rendering there (`user:?:profile`): under the default
//! policy a template key costs nothing per call. Other policies format the full key, and only
//! for spans that are recorded.

use std::fmt::{Display, Write as _};

use super::RedisKey;

/// A key template with its values (used by generated code).
pub struct KeyTemplate<'a> {
    /// The literal text around the placeholders: one more piece than there are values.
    literals: &'static [&'static str],
    /// The key with every placeholder as `?`: what the `pattern` policy records.
    pattern: &'static str,
    values: &'a [&'a dyn Display],
}

impl<'a> KeyTemplate<'a> {
    /// A template of `literals` around `values`, rendered as `pattern` by the pattern policy.
    #[must_use]
    pub const fn new(
        literals: &'static [&'static str],
        pattern: &'static str,
        values: &'a [&'a dyn Display],
    ) -> Self {
        Self {
            literals,
            pattern,
            values,
        }
    }

    /// The full key, as the template's `format!` would write it.
    fn format(&self) -> String {
        let mut key = String::new();
        for (index, literal) in self.literals.iter().enumerate() {
            key.push_str(literal);
            if let Some(value) = self.values.get(index) {
                // Writing into a String cannot fail.
                let _ = write!(key, "{value}");
            }
        }
        key
    }
}

impl RedisKey for KeyTemplate<'_> {
    fn visit_args(&self, visit: &mut dyn FnMut(&[u8])) {
        visit(self.format().as_bytes());
    }

    fn pattern(&self) -> Option<&'static str> {
        Some(self.pattern)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_format_like_format_and_know_their_pattern() {
        let id = 42;
        let tenant = "acme";
        let values: [&dyn Display; 2] = [&tenant, &id];
        let template =
            KeyTemplate::new(&["{", "}:user:", ":profile"], "{?}:user:?:profile", &values);
        let mut visited = Vec::new();
        template.visit_args(&mut |arg| visited.push(arg.to_vec()));
        assert_eq!(
            visited,
            [format!("{{{tenant}}}:user:{id}:profile").into_bytes()]
        );
        assert_eq!(template.pattern(), Some("{?}:user:?:profile"));
    }
}
