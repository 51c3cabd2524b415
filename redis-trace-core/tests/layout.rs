//! The core's layout rule, checked on its own sources: at every level of the module tree, the
//! children of a module import each other without cycles (test code excluded).
//!
//! An import from `a::x` to `a::y::z` is an edge `x → y` among the children of `a`; an import
//! from `a::x` to `b` is an edge `a → b` among the top-level modules. A module using its own
//! ancestors or descendants adds no edge: only siblings can form a cycle. A name a module binds
//! with `use` (a re-export such as `pub use self::y::Thing`, or a private import its children
//! see) counts where it is defined: `super::Thing` from `a::x` is an edge `x → y`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A module as its path segments from the crate root: `connection/describe.rs` → `[connection,
/// describe]`, `lib.rs` → `[]`.
type ModulePath = Vec<String>;

/// The import graph among one module's children: from child, to child, the first import seen.
type Graph = BTreeMap<String, BTreeMap<String, String>>;

/// The known modules, the names each binds with `use` (module, name → the path it names from
/// the crate root), and the import graphs among siblings, by parent (only parents whose
/// children import each other have one).
#[derive(Default)]
struct Layout {
    modules: BTreeSet<ModulePath>,
    bindings: BTreeMap<(ModulePath, String), Vec<String>>,
    graphs: BTreeMap<ModulePath, Graph>,
}

fn module_path(relative: &str) -> ModulePath {
    let mut segments: ModulePath = relative
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect();
    if segments.last().is_some_and(|last| last == "mod") || segments == ["lib"] {
        segments.pop();
    }
    segments
}

/// The code that counts: what comes before the test module at the end of the file (the first
/// `#[cfg(test)]` followed by `mod`: a test-only item elsewhere does not end the scan), comment
/// lines blanked (not removed, so positions still give line numbers).
fn counted_code(source: &str) -> String {
    let test_module = source
        .match_indices("#[cfg(test)]")
        .find(|&(at, attribute)| {
            let rest = source[at + attribute.len()..].trim_start();
            rest.starts_with("mod ")
                || rest.starts_with("pub mod ")
                || rest.starts_with("pub(crate) mod ")
        });
    let code = &source[..test_module.map_or(source.len(), |(at, _)| at)];
    let lines = code.lines().map(|line| match line.trim_start() {
        comment if comment.starts_with("//") => "",
        _ => line,
    });
    lines.collect::<Vec<_>>().join("\n")
}

/// Where a path starts: `crate::`, `super::` or `self::`, not a tail of `$crate::`, of
/// `foo_crate::` or of `a::super::` (a chain of `super::` is parsed from its first one).
fn path_starts(code: &str) -> Vec<usize> {
    let starts = ["crate::", "super::", "self::"].into_iter();
    let found = starts.flat_map(|start| code.match_indices(start).map(|(at, _)| at));
    let mut found: Vec<usize> = found
        .filter(|&at| {
            let before = code[..at].chars().next_back();
            !before.is_some_and(|c| c == '$' || c == ':' || c == '_' || c.is_alphanumeric())
        })
        .collect();
    found.sort_unstable();
    found
}

fn skip_space(code: &str, at: usize) -> usize {
    code.len() - code[at..].trim_start().len()
}

fn identifier(code: &str, at: usize) -> &str {
    let rest = &code[at..];
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    &rest[..end]
}

/// A path as written, and the name it binds when it is a `use` (its last segment, its alias
/// after `as`, `*` for a glob).
type Written = (Vec<String>, String);

/// Parses the path (or `use` tree) at `at` and pushes each full path it names onto `found`:
/// `crate::{a, b::{self, C as D}}` gives `crate::a`, `crate::b` and `crate::b::C` (binding `a`,
/// `b` and `D`). Returns where the path ends.
fn parse_tree(code: &str, at: usize, prefix: &[String], found: &mut Vec<Written>) -> usize {
    let mut path = prefix.to_vec();
    let mut at = skip_space(code, at);
    loop {
        if code[at..].starts_with('{') {
            at += 1;
            loop {
                at = skip_space(code, at);
                if at == code.len() || code[at..].starts_with('}') {
                    return (at + 1).min(code.len());
                }
                at = parse_tree(code, at, &path, found);
                // Past what follows a branch (`as alias`) to the next one.
                at += code[at..].find([',', '}']).unwrap_or(code.len() - at);
                at += usize::from(code[at..].starts_with(','));
            }
        }
        let name = identifier(code, at);
        if name.is_empty() {
            let bound = match code[at..].starts_with('*') {
                true => "*".to_owned(),
                false => path.last().cloned().unwrap_or_default(),
            };
            found.push((path, bound));
            return at;
        }
        // `b::{self, C}` names `b` itself.
        if name != "self" || path.is_empty() {
            path.push(name.to_owned());
        }
        at = skip_space(code, at + name.len());
        if !code[at..].starts_with("::") {
            let alias = code[at..]
                .strip_prefix("as")
                .filter(|rest| rest.starts_with(char::is_whitespace))
                .map(|_| identifier(code, skip_space(code, at + 2)));
            let bound =
                alias.map_or_else(|| path.last().cloned().unwrap_or_default(), str::to_owned);
            found.push((path, bound));
            return at;
        }
        at = skip_space(code, at + 2);
    }
}

/// A written path from the crate root, its module prefix spelled out: `super::x::Y` from
/// `a::b` is `a::x::Y`. A path starting elsewhere counts when it starts with a child of `from`
/// (`use child::Name`, the 2018 form); None for anything else (another crate).
fn absolute(
    written: &[String],
    from: &[String],
    modules: &BTreeSet<ModulePath>,
) -> Option<Vec<String>> {
    let supers = written.iter().take_while(|s| *s == "super").count();
    let (mut path, rest) = match written.first()?.as_str() {
        "crate" => (Vec::new(), &written[1..]),
        "self" => (from.to_vec(), &written[1..]),
        "super" => (
            from[..from.len().saturating_sub(supers)].to_vec(),
            &written[supers..],
        ),
        child => {
            let mut child_path = from.to_vec();
            child_path.push(child.to_owned());
            if !modules.contains(&child_path) {
                return None;
            }
            (from.to_vec(), written)
        }
    };
    path.extend(rest.iter().cloned());
    Some(path)
}

/// The module a written path lands in: its leading segments that name known modules, and
/// through a name a module binds with `use` (a re-export, `pub use self::child::Name`, or a
/// private import its children see), the module that path lands in.
fn resolve(written: &[String], from: &[String], layout: &Layout) -> ModulePath {
    match absolute(written, from, &layout.modules) {
        Some(path) => land(&path, layout, 0),
        None => from.to_vec(),
    }
}

fn land(path: &[String], layout: &Layout, depth: usize) -> ModulePath {
    let mut target = Vec::new();
    for (at, segment) in path.iter().enumerate() {
        // The classification macro is exported at the root but defined in `outcome`.
        let segment = match segment.as_str() {
            "__outcome" if target.is_empty() => "outcome",
            other => other,
        };
        target.push(segment.to_owned());
        if layout.modules.contains(&target) {
            continue;
        }
        target.pop();
        let bound = layout.bindings.get(&(target.clone(), segment.to_owned()));
        // A chain of re-exports is short; the bound only guards against a binding to itself.
        if let Some(bound) = bound.filter(|_| depth < 16) {
            let mut followed = bound.clone();
            followed.extend(path[at + 1..].iter().cloned());
            return land(&followed, layout, depth + 1);
        }
        break;
    }
    target
}

/// The names a file's module binds with a `use` item at the start of a line (any visibility:
/// its children see private ones too), and the path each names from the crate root. Globs and
/// other crates' names are left out: they lead to no module of ours by name.
fn bindings(
    relative: &str,
    source: &str,
    modules: &BTreeSet<ModulePath>,
) -> Vec<(String, Vec<String>)> {
    let from = module_path(relative);
    let code = counted_code(source);
    let mut bindings = Vec::new();
    let mut line_start = 0;
    for line in code.split('\n') {
        let mut rest = line;
        if let Some(public) = rest.strip_prefix("pub") {
            rest = match public.strip_prefix('(') {
                Some(scoped) => scoped.split_once(')').map_or("", |(_, after)| after),
                None => public,
            };
            rest = rest.trim_start();
        }
        if let Some(tree) = rest.strip_prefix("use ") {
            let at = line_start + (line.len() - tree.len());
            let mut written = Vec::new();
            parse_tree(&code, at, &[], &mut written);
            for (path, bound) in written {
                if bound == "*" {
                    continue;
                }
                if let Some(path) = absolute(&path, &from, modules) {
                    bindings.push((bound, path));
                }
            }
        }
        line_start += line.len() + 1;
    }
    bindings
}

/// Every path a file names: the module it lands in, and where it is (`file:line uses path`). A
/// `super::` inside an inline module (other than the tests) resolves as if at the file's top.
fn imports(relative: &str, source: &str, layout: &Layout) -> Vec<(ModulePath, String)> {
    let from = module_path(relative);
    let code = counted_code(source);
    let mut imports = Vec::new();
    for at in path_starts(&code) {
        let line = code[..at].matches('\n').count() + 1;
        let mut written = Vec::new();
        parse_tree(&code, at, &[], &mut written);
        for (path, _) in written {
            let example = format!("{relative}:{line} uses {}", path.join("::"));
            imports.push((resolve(&path, &from, layout), example));
        }
    }
    imports
}

/// The two siblings an import from `from` to `to` links, with their parent: the children of
/// the longest common prefix on the way to each. None when one contains the other.
fn sibling_edge(from: &[String], to: &[String]) -> Option<(ModulePath, String, String)> {
    let common = from.iter().zip(to).take_while(|(a, b)| a == b).count();
    if common == from.len() || common == to.len() {
        return None;
    }
    let parent = from[..common].to_vec();
    Some((parent, from[common].clone(), to[common].clone()))
}

fn layout(files: &[(String, String)]) -> Layout {
    let mut layout = Layout::default();
    for (relative, _) in files {
        let module = module_path(relative);
        // Every ancestor too, so a directory without a `mod.rs` still counts as a module.
        for len in 1..=module.len() {
            layout.modules.insert(module[..len].to_vec());
        }
    }
    for (relative, source) in files {
        let module = module_path(relative);
        for (name, path) in bindings(relative, source, &layout.modules) {
            layout.bindings.insert((module.clone(), name), path);
        }
    }
    let mut graphs = BTreeMap::new();
    for (relative, source) in files {
        let from = module_path(relative);
        for (target, example) in imports(relative, source, &layout) {
            let Some((parent, a, b)) = sibling_edge(&from, &target) else {
                continue;
            };
            let graph: &mut Graph = graphs.entry(parent).or_default();
            graph.entry(a).or_default().entry(b).or_insert(example);
        }
    }
    layout.graphs = graphs;
    layout
}

fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|seen| seen == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flat_map(BTreeMap::keys) {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

/// One paragraph per level with a cycle: the cycle, and an import behind each of its edges.
fn cycles(layout: &Layout) -> Vec<String> {
    let mut reports = Vec::new();
    for (parent, graph) in &layout.graphs {
        let Some(cycle) = find_cycle(graph) else {
            continue;
        };
        let level = if parent.is_empty() {
            "crate".to_owned()
        } else {
            parent.join("::")
        };
        let mut lines = vec![format!(
            "import cycle at level `{level}`: {}",
            cycle.join(" → ")
        )];
        for pair in cycle.windows(2) {
            let example = &graph[&pair[0]][&pair[1]];
            lines.push(format!("  {} → {}: {example}", pair[0], pair[1]));
        }
        reports.push(lines.join("\n"));
    }
    reports
}

/// The `.rs` files under `dir`, as paths relative to `src` with `/` separators, and their text.
fn read_sources(src: &Path, dir: &Path, found: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            read_sources(src, &path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let relative = path.strip_prefix(src).unwrap().components();
            let relative: Vec<_> = relative.map(|c| c.as_os_str().to_string_lossy()).collect();
            found.push((relative.join("/"), std::fs::read_to_string(&path).unwrap()));
        }
    }
}

/// A synthetic tree: (path under `src`, source) pairs.
fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let owned = list
        .iter()
        .map(|&(path, code)| (path.to_owned(), code.to_owned()));
    owned.collect()
}

#[test]
fn modules_import_each_other_without_cycles_at_any_level() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources = Vec::new();
    read_sources(&src, &src, &mut sources);
    sources.sort(); // Same example imports on every run.
    let layout = layout(&sources);
    // A broken scanner would find nothing and pass: make sure it sees the tree and its imports.
    let top_level = layout.modules.iter().filter(|m| m.len() == 1).count();
    assert!(top_level > 10, "top-level modules found: {top_level}");
    // A level has a graph only once an edge is found in it.
    assert!(!layout.graphs.is_empty(), "the import scan finds no edge");
    let reports = cycles(&layout);
    assert!(reports.is_empty(), "{}", reports.join("\n"));
}

#[test]
fn a_cycle_among_siblings_deep_in_the_tree_is_found() {
    let layout = layout(&files(&[
        ("lib.rs", "mod a;"),
        ("a/mod.rs", "mod x;\nmod y;"),
        ("a/x.rs", "use super::y::Thing;"),
        ("a/y.rs", "//! Y.\n\nuse crate::a::x::Other;"),
    ]));
    let reports = cycles(&layout);
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(
        reports[0],
        "import cycle at level `a`: x → y → x\n  \
         x → y: a/x.rs:1 uses super::y::Thing\n  \
         y → x: a/y.rs:3 uses crate::a::x::Other"
    );
}

#[test]
fn a_top_level_cycle_through_a_brace_group_is_found() {
    let layout = layout(&files(&[
        ("lib.rs", "mod a;\nmod b;\nmod c;"),
        ("a.rs", "use crate::{\n    c::{self, D},\n    b,\n};"),
        ("b.rs", "fn f() { crate::a::f() }"),
        ("c.rs", ""),
    ]));
    let reports = cycles(&layout);
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(reports[0].starts_with("import cycle at level `crate`: a → b → a"));
    assert!(reports[0].contains("a → b: a.rs:1 uses crate::b"));
}

#[test]
fn comments_macros_tests_and_parents_do_not_count() {
    let child = "// crate::b::Thing\nuse super::Parent;\nfoo_crate::b::f();\n$crate::b::g!();\n\
                 #[cfg(test)]\nmod tests {\n    use crate::b::Other;\n}";
    let layout = layout(&files(&[
        ("lib.rs", "mod a;\nmod b;"),
        ("a/mod.rs", "mod x;\nuse self::x::Thing;"),
        ("a/x.rs", child),
        ("b.rs", "use crate::a::x::Thing;"),
    ]));
    // The one edge is `b → a`: anything counted from `a/x.rs` to `b` would close a cycle.
    let top_level = &layout.graphs[&Vec::new()];
    assert_eq!(layout.graphs.len(), 1);
    assert_eq!(top_level["b"].keys().collect::<Vec<_>>(), ["a"]);
    assert_eq!(cycles(&layout), Vec::<String>::new());
}

#[test]
fn nested_use_trees_resolve_to_modules() {
    let modules = ["connection/mod.rs", "connection/describe.rs", "outcome.rs"];
    let layout = Layout {
        modules: modules.map(module_path).into(),
        ..Layout::default()
    };
    let code = "use super::{describe::{self, cmd_args}, TracedConnection};\n\
                super::super::x();\ncrate::__outcome!(&y)";
    let targets: BTreeSet<_> = imports("connection/messages.rs", code, &layout)
        .into_iter()
        .map(|(target, _)| target.join("::"))
        .collect();
    let expected = ["", "connection", "connection::describe", "outcome"].map(str::to_owned);
    assert_eq!(targets, expected.into());
}

#[test]
fn a_cycle_through_a_parents_re_export_is_found() {
    // `x` reaches `y` through `a`'s `pub use`, `y` reaches `x` through a renamed 2018-style
    // `pub(crate) use`: each import lands on the child that defines the name, not on `a`.
    let layout = layout(&files(&[
        ("lib.rs", "mod a;\npub use a::Top;"),
        (
            "a/mod.rs",
            "mod x;\nmod y;\npub use self::y::{Thing, Top};\npub(crate) use x::Other as Renamed;",
        ),
        ("a/x.rs", "use super::Thing;"),
        ("a/y.rs", "use crate::a::Renamed;"),
        ("b.rs", "fn f() { crate::Top::new() }"),
    ]));
    let reports = cycles(&layout);
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(
        reports[0],
        "import cycle at level `a`: x → y → x\n  \
         x → y: a/x.rs:1 uses super::Thing\n  \
         y → x: a/y.rs:1 uses crate::a::Renamed"
    );
    // A re-export at the root is followed down too: `b` uses `a::y`, so `b → a`.
    let top_level = &layout.graphs[&Vec::new()];
    assert_eq!(top_level["b"].keys().collect::<Vec<_>>(), ["a"]);
}

#[test]
fn a_test_only_item_does_not_end_the_scan() {
    let code = "#[cfg(test)]\nfn helper() {}\nuse crate::b::Thing;\n#[cfg(test)]\nmod tests {\n    use crate::c::Other;\n}";
    let counted = counted_code(code);
    assert!(counted.contains("crate::b::Thing"), "{counted}");
    assert!(!counted.contains("crate::c::Other"), "{counted}");
}
