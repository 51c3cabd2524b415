//! What is the same on every call of one annotated function.

use std::sync::OnceLock;

use arc_swap::ArcSwapOption;

use crate::metrics::CacheTally;

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
    /// Where this function's last hit or miss was counted.
    cache_tally: ArcSwapOption<CacheTally>,
}

/// A key policy chosen on the attribute (`key_policy = "hash"` or `key_policy = my_fn`),
/// overriding the process-wide one for this function.
#[derive(Debug, Clone, Copy)]
pub enum CallsiteKeyPolicy {
    /// `"pattern"`.
    Pattern,
    /// `"hash"`, with the process-wide hash key.
    Hash,
    /// `"raw"`.
    Raw,
    /// `"omit"`.
    Omit,
    /// A function rendering a key; `None` leaves it out.
    Custom(fn(&[u8]) -> Option<String>),
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
            cache_tally: ArcSwapOption::const_empty(),
        }
    }

    /// The same callsite with its own key policy.
    #[must_use]
    pub const fn with_key_policy(mut self, policy: CallsiteKeyPolicy) -> Self {
        self.key_policy = Some(policy);
        self
    }

    /// The key policy given on the attribute, if any.
    #[must_use]
    pub const fn key_policy(&self) -> Option<CallsiteKeyPolicy> {
        self.key_policy
    }

    /// Where this function's last hit or miss was counted.
    pub(crate) fn cache_tally(&self) -> &ArcSwapOption<CacheTally> {
        &self.cache_tally
    }

    /// The Redis command (`db.operation.name`).
    #[must_use]
    pub const fn operation(&self) -> &'static str {
        self.operation
    }

    /// The summary given with `name = "..."` (`db.query.summary`), if any.
    #[must_use]
    pub const fn summary(&self) -> Option<&'static str> {
        self.summary
    }

    /// The annotated function's path (`code.function.name`), e.g. `app::UserRepo::get_user` or
    /// `<app::Repo as app::Cache>::get`.
    #[must_use]
    pub fn function(&self) -> &'static str {
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
