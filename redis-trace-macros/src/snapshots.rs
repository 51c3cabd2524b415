//! Expansion snapshots: each `tests/expand/NAME.rs` is expanded, pretty-printed with
//! prettyplease and compared with `NAME.expanded.rs`; the guide's expansion excerpt must be one
//! of them. Update after an intended change with `REDIS_TRACE_BLESS=1 cargo test -p
//! redis-trace-macros` and review the diff.

use std::path::{Path, PathBuf};

use quote::ToTokens;

/// The most lines the expansion may add to a function (rustfmt'd, via prettyplease). A key
/// template adds its literal pieces, pattern and values (`template_summary.rs`: 32 lines, the
/// first template snapshot); a key expression, 25 to 29. Four of them are the branch that
/// starts an idle operation, without evaluating the keys, when no provider is installed.
const MAX_ADDED_LINES: usize = 34;

fn expand_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expand")
}

/// The expansion of the one attributed fn in `source`, and the fn without the attribute, both
/// pretty-printed.
fn expand_source(source: &str) -> (String, String) {
    let mut function: syn::ItemFn = syn::parse_str(source).expect("a fn in the snapshot input");
    let attribute = function.attrs.remove(0);
    let args = match attribute.meta {
        syn::Meta::List(list) => list.tokens,
        other => panic!(
            "expected #[redis_traced(...)], got {}",
            other.to_token_stream()
        ),
    };
    let expanded = crate::redis_traced_impl(args, function.to_token_stream());
    let pretty = |tokens: proc_macro2::TokenStream| {
        prettyplease::unparse(&syn::parse2::<syn::File>(tokens).expect("expansion parses as items"))
    };
    (pretty(expanded), pretty(function.to_token_stream()))
}

#[test]
fn expansions_match_snapshots() {
    let bless = std::env::var_os("REDIS_TRACE_BLESS").is_some();
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(expand_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.extension().is_some_and(|e| e == "rs")
                && !path.to_string_lossy().ends_with(".expanded.rs")
        })
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 4, "snapshot inputs missing: {inputs:?}");
    for input in inputs {
        let (expanded, original) = expand_source(&std::fs::read_to_string(&input).unwrap());
        let snapshot = input.with_extension("expanded.rs");
        if bless {
            std::fs::write(&snapshot, &expanded).unwrap();
        }
        let expected = std::fs::read_to_string(&snapshot).unwrap_or_default();
        assert!(
            expected == expanded,
            "{} changed; expansion now:\n{expanded}",
            snapshot.display()
        );
        if !input.ends_with("invalid_is_emitted_unchanged.rs") {
            let added = expanded.lines().count() - original.lines().count();
            assert!(
                added <= MAX_ADDED_LINES,
                "{}: {added} lines added",
                input.display()
            );
        }
    }
}

#[test]
fn invalid_attribute_keeps_the_function() {
    let (expanded, original) = expand_source(
        &std::fs::read_to_string(expand_dir().join("invalid_is_emitted_unchanged.rs")).unwrap(),
    );
    assert!(expanded.contains("compile_error!"));
    assert!(
        expanded.contains(original.trim()),
        "the original fn is emitted as written"
    );
}

/// The guide (the facade's crate documentation) shows the expansion of `get_user.rs` between
/// `<!-- expansion:start -->` and `<!-- expansion:end -->`, and states how many lines it adds.
#[test]
fn guide_excerpt_is_a_real_expansion() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/guide.md"))
            .unwrap();
    let (expanded, original) =
        expand_source(&std::fs::read_to_string(expand_dir().join("get_user.rs")).unwrap());
    let start = readme
        .find("<!-- expansion:start -->")
        .expect("guide expansion start marker");
    let end = readme
        .find("<!-- expansion:end -->")
        .expect("guide expansion end marker");
    let excerpt = &readme[start..end];
    let code = excerpt
        .split_once("```rust,ignore\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(code, _)| code)
        .expect("a rust code block in the guide excerpt");
    assert_eq!(code, expanded, "guide expansion excerpt is stale");
    let added = expanded.lines().count() - original.lines().count();
    let claim = format!("adds {added} lines");
    assert!(
        readme.contains(&claim),
        "the guide must state the expansion size: {claim:?}"
    );
}
