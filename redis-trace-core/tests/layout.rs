//! The core's layout rule, checked on its own sources: at every level of the module tree, the
//! children of a module import each other without cycles (test code excluded).
//!
//! An import from `a::x` to `a::y::z` is an edge `x → y` among the children of `a`; an import
//! from `a::x` to `b` is an edge `a → b` among the top-level modules. A module using its own
//! ancestors or descendants adds no edge: only siblings can form a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A module as its path segments from the crate root: `connection/describe.rs` → `[connection,
/// describe]`, `lib.rs` → `[]`.
type ModulePath = Vec<String>;

/// The import graph among one module's children: from child, to child, the first import seen.
type Graph = BTreeMap<String, BTreeMap<String, String>>;

/// The known modules, and the import graphs among siblings, by parent (only parents whose
/// children import each other have one).
#[derive(Default)]
struct Layout {
    modules: BTreeSet<ModulePath>,
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

/// The code that counts: what comes before the test module at the end of the file, comment lines
/// blanked (not removed, so positions still give line numbers).
fn counted_code(source: &str) -> String {
    let code = source.split("#[cfg(test)]").next().unwrap_or(source);
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

/// Parses the path (or `use` tree) at `at` and pushes each full path it names onto `found`:
/// `crate::{a, b::{self, C}}` gives `crate::a`, `crate::b` and `crate::b::C`. Returns
/// where the path ends.
fn parse_tree(code: &str, at: usize, prefix: &[String], found: &mut Vec<Vec<String>>) -> usize {
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
            found.push(path);
            return at;
        }
        // `b::{self, C}` names `b` itself.
        if name != "self" || path.is_empty() {
            path.push(name.to_owned());
        }
        at = skip_space(code, at + name.len());
        if !code[at..].starts_with("::") {
            found.push(path);
            return at;
        }
        at = skip_space(code, at + 2);
    }
}

/// The module a written path lands in: its leading segments that name known modules.
fn resolve(written: &[String], from: &[String], modules: &BTreeSet<ModulePath>) -> ModulePath {
    let supers = written.iter().take_while(|s| *s == "super").count();
    let (mut target, rest) = match written[0].as_str() {
        "crate" => (Vec::new(), &written[1..]),
        "self" => (from.to_vec(), &written[1..]),
        _ => (
            from[..from.len().saturating_sub(supers)].to_vec(),
            &written[supers..],
        ),
    };
    for segment in rest {
        // The classification macro is exported at the root but defined in `outcome`.
        let segment = match segment.as_str() {
            "__outcome" if target.is_empty() => "outcome",
            other => other,
        };
        target.push(segment.to_owned());
        if !modules.contains(&target) {
            target.pop();
            break;
        }
    }
    target
}

/// Every path a file names: the module it lands in, and where it is (`file:line uses path`). A
/// `super::` inside an inline module (other than the tests) resolves as if at the file's top.
fn imports(
    relative: &str,
    source: &str,
    modules: &BTreeSet<ModulePath>,
) -> Vec<(ModulePath, String)> {
    let from = module_path(relative);
    let code = counted_code(source);
    let mut imports = Vec::new();
    for at in path_starts(&code) {
        let line = code[..at].matches('\n').count() + 1;
        let mut written = Vec::new();
        parse_tree(&code, at, &[], &mut written);
        for path in written {
            let example = format!("{relative}:{line} uses {}", path.join("::"));
            imports.push((resolve(&path, &from, modules), example));
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
        let from = module_path(relative);
        for (target, example) in imports(relative, source, &layout.modules) {
            let Some((parent, a, b)) = sibling_edge(&from, &target) else {
                continue;
            };
            let graph = layout.graphs.entry(parent).or_default();
            graph.entry(a).or_default().entry(b).or_insert(example);
        }
    }
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
    let modules = modules.map(module_path).into();
    let code = "use super::{describe::{self, cmd_args}, TracedConnection};\n\
                super::super::x();\ncrate::__outcome!(&y)";
    let targets: BTreeSet<_> = imports("connection/messages.rs", code, &modules)
        .into_iter()
        .map(|(target, _)| target.join("::"))
        .collect();
    let expected = ["", "connection", "connection::describe", "outcome"].map(str::to_owned);
    assert_eq!(targets, expected.into());
}
