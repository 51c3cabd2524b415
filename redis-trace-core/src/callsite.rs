//! What is the same on every call of one annotated function.

use std::sync::OnceLock;

/// The name the macro gives the callsite static; the function's path ends right before it.
const STATIC_NAME: &str = "::__REDIS_TRACE_CALLSITE";

/// Static metadata of one `#[redis_traced]` function; the macro emits one `static` per function.
#[derive(Debug)]
pub struct Callsite {
    operation: &'static str,
    summary: Option<&'static str>,
    file: &'static str,
    line: u32,
    /// `type_name_of_val` of an item nested in the callsite static: the function's full path
    /// including its `impl` type, which no macro can see.
    nested_item_path: fn() -> &'static str,
    function: OnceLock<&'static str>,
}

impl Callsite {
    /// Describes an annotated function. `operation` is the Redis command, `summary` the optional
    /// `name = "..."` of the attribute. `nested_item_path` returns
    /// `std::any::type_name_of_val` of a fn item declared inside the callsite static.
    #[must_use]
    pub const fn new(
        operation: &'static str,
        summary: Option<&'static str>,
        file: &'static str,
        line: u32,
        nested_item_path: fn() -> &'static str,
    ) -> Self {
        Self {
            operation,
            summary,
            file,
            line,
            nested_item_path,
            function: OnceLock::new(),
        }
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

    /// `file!()` where the function is defined.
    #[must_use]
    pub const fn file(&self) -> &'static str {
        self.file
    }

    /// `line!()` of the function's attribute.
    #[must_use]
    pub const fn line(&self) -> u32 {
        self.line
    }
}

/// `app::Repo::get::{{closure}}::__REDIS_TRACE_CALLSITE::{{closure}}::f` → `app::Repo::get`.
fn function_path(nested_item_path: &'static str) -> &'static str {
    let mut path = nested_item_path
        .rfind(STATIC_NAME)
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
            (
                "app::get::__REDIS_TRACE_CALLSITE::{{closure}}::f",
                "app::get",
            ),
            (
                "app::Repo<_>::get::{{closure}}::__REDIS_TRACE_CALLSITE::{{closure}}::f",
                "app::Repo<_>::get",
            ),
            (
                "<app::Repo as app::Get>::get::__REDIS_TRACE_CALLSITE::{{closure}}::f",
                "<app::Repo as app::Get>::get",
            ),
            ("unexpected", "unexpected"),
        ];
        for (nested, expected) in cases {
            assert_eq!(function_path(nested), expected);
        }
    }
}
