//! What is the same on every call of one annotated function.

use std::borrow::Cow;
use std::sync::OnceLock;

use redis_trace_commands::{Answer, KeyPolicyName, MessagingRole};

use crate::config::Config;
use crate::key::KeyPolicy;
use crate::metrics::FunctionMetrics;

/// The name of the fn item the macro declares in the traced function's body; the function's
/// path ends right before it.
const NESTED_ITEM_NAME: &str = "::__redis_trace_fn";

/// Static metadata of one `#[redis_traced]` function; the macro emits one `static` per function.
#[derive(Debug)]
pub struct Callsite {
    operation: &'static str,
    summary: Option<&'static str>,
    /// `type_name` of a fn item declared in the traced function's body: the function's full
    /// path including its `impl` type, which no macro can see.
    nested_item_path: fn() -> &'static str,
    function: OnceLock<&'static str>,
    key_policy: Option<CallsiteKeyPolicy>,
    /// `cache = true | false` on the attribute.
    cache: Option<bool>,
    /// What the command table says about the operation, read on the first call.
    facts: OnceLock<Facts>,
    /// What its successful calls record into.
    metrics: FunctionMetrics,
}

/// What a function's calls mean, from its command's facts and the attribute.
#[derive(Debug, Clone, Copy)]
struct Facts {
    answer: Answer,
    messaging_role: Option<MessagingRole>,
}

/// A key policy chosen on the attribute (`key_policy = "hash"` or `key_policy = my_fn`),
/// overriding the process-wide one for this function.
#[derive(Debug, Clone, Copy)]
pub struct CallsiteKeyPolicy(Choice);

#[derive(Debug, Clone, Copy)]
enum Choice {
    /// `"hash"` uses the process-wide hash secret.
    Named(KeyPolicyName),
    /// A function rendering a key; `None` leaves it out.
    Custom(fn(&[u8]) -> Option<String>),
}

impl CallsiteKeyPolicy {
    /// The policy called `name` (`"pattern"`, `"hash"`, `"raw"`, `"omit"`), which the macro
    /// has checked; an unknown name fails compilation of the static.
    #[must_use]
    pub const fn named(name: &str) -> Self {
        match KeyPolicyName::from_name(name) {
            Some(policy) => Self(Choice::Named(policy)),
            None => panic!("unknown key policy name"),
        }
    }

    /// A function rendering a key; `None` leaves it out.
    #[must_use]
    pub const fn custom(render: fn(&[u8]) -> Option<String>) -> Self {
        Self(Choice::Custom(render))
    }

    /// The policy in effect under `config`.
    pub(crate) fn resolve(self, config: &Config) -> Cow<'_, KeyPolicy> {
        match self.0 {
            Choice::Named(KeyPolicyName::Pattern) => Cow::Owned(KeyPolicy::Pattern),
            Choice::Named(KeyPolicyName::Raw) => Cow::Owned(KeyPolicy::Raw),
            Choice::Named(KeyPolicyName::Omit) => Cow::Owned(KeyPolicy::Omit),
            Choice::Named(KeyPolicyName::Hash) => Cow::Borrowed(config.hash_policy()),
            Choice::Custom(render) => Cow::Owned(KeyPolicy::custom(render)),
        }
    }
}

impl Callsite {
    /// Describes an annotated function. `operation` is the Redis command, `summary` the optional
    /// `name = "..."` of the attribute, `nested_item` the fn item `__redis_trace_fn` declared in
    /// the traced function's body (its type name is the function's path).
    #[must_use]
    pub const fn new<F: Copy>(
        operation: &'static str,
        summary: Option<&'static str>,
        nested_item: F,
    ) -> Self {
        let _ = nested_item;
        Self {
            operation,
            summary,
            nested_item_path: std::any::type_name::<F>,
            function: OnceLock::new(),
            key_policy: None,
            cache: None,
            facts: OnceLock::new(),
            metrics: FunctionMetrics::new(),
        }
    }

    /// The same callsite with `cache = true` (a lookup whatever the command) or `false` (never
    /// a cache lookup).
    #[must_use]
    pub const fn with_cache(mut self, cache: bool) -> Self {
        self.cache = Some(cache);
        self
    }

    fn facts(&self) -> Facts {
        *self.facts.get_or_init(|| {
            let command = redis_trace_commands::lookup(self.operation);
            let by_command = command.map_or(Answer::Other, |c| c.answer());
            let answer = match (self.cache, by_command) {
                (Some(true), _) => Answer::Lookup,
                (Some(false), Answer::Lookup) => Answer::Other,
                (_, answer) => answer,
            };
            Facts {
                answer,
                messaging_role: command.and_then(|c| c.messaging_role()),
            }
        })
    }

    /// What the function's result says about its keys: the command's answer (see
    /// `redis_trace_commands::Command::answer`), unless `cache = ...` overrides it.
    pub(crate) fn answer(&self) -> Answer {
        self.facts().answer
    }

    /// Whether the function sends a message (`PUBLISH`, `SPUBLISH`, `XADD`): a producer.
    pub(crate) fn sends(&self) -> bool {
        self.facts()
            .messaging_role
            .is_some_and(MessagingRole::sends)
    }

    /// The same callsite with its own key policy.
    #[must_use]
    pub const fn with_key_policy(mut self, policy: CallsiteKeyPolicy) -> Self {
        self.key_policy = Some(policy);
        self
    }

    /// The key policy in effect for this function under `config`.
    pub(crate) fn key_policy<'a>(&self, config: &'a Config) -> Cow<'a, KeyPolicy> {
        self.key_policy
            .map_or(Cow::Borrowed(config.key_policy()), |policy| {
                policy.resolve(config)
            })
    }

    /// What this function's successful calls record into.
    pub(crate) fn metrics(&self) -> &FunctionMetrics {
        &self.metrics
    }

    /// The Redis command (`db.operation.name`).
    pub(crate) const fn operation(&self) -> &'static str {
        self.operation
    }

    /// The summary given with `name = "..."` (`db.query.summary`), if any.
    pub(crate) const fn summary(&self) -> Option<&'static str> {
        self.summary
    }

    /// The annotated function's path (`code.function.name`), e.g. `app::UserRepo::get_user` or
    /// `<app::Repo as app::Cache>::get`.
    pub(crate) fn function(&self) -> &'static str {
        self.function
            .get_or_init(|| function_path((self.nested_item_path)()))
    }
}

/// `app::Repo::get::{{closure}}::__redis_trace_fn` → `app::Repo::get`.
fn function_path(nested_item_path: &'static str) -> &'static str {
    let mut path = nested_item_path
        .rfind(NESTED_ITEM_NAME)
        .map_or(nested_item_path, |end| &nested_item_path[..end]);
    // An async fn's body is a closure in the item path.
    while let Some(outer) = path.strip_suffix("::{{closure}}") {
        path = outer;
    }
    path
}

#[cfg(test)]
mod tests {
    use super::function_path;

    #[test]
    fn function_paths_drop_the_nested_item() {
        let cases = [
            ("app::get::__redis_trace_fn", "app::get"),
            (
                "app::Repo<_>::get::{{closure}}::__redis_trace_fn",
                "app::Repo<_>::get",
            ),
            (
                "<app::Repo as app::Get>::get::__redis_trace_fn",
                "<app::Repo as app::Get>::get",
            ),
            ("unexpected", "unexpected"),
        ];
        for (nested, expected) in cases {
            assert_eq!(function_path(nested), expected);
        }
    }
}
