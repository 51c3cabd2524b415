//! Every attribute, metric and event name is written once: standard names come from
//! `opentelemetry-semantic-conventions` and ours are defined in `semconv.rs` (checked against our
//! registry there). This test fails on a name written as a string literal anywhere else in the
//! product code of the four crates (tests and comments may spell names out: they are the oracle).

use std::fs;
use std::path::{Path, PathBuf};

/// The namespaces of the names we write.
const NAMESPACES: &[&str] = &[
    "db.",
    "server.",
    "network.",
    "messaging.",
    "error.",
    "code.",
    "cache.",
    "redis.",
    "redis_trace.",
];

/// Where names are defined on purpose.
const DEFINITIONS: &[&str] = &["redis-trace-core/src/semconv.rs"];

#[test]
fn no_name_is_written_outside_its_definition() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found = Vec::new();
    for dir in [
        "redis-trace-core/src",
        "redis-trace-macros/src",
        "redis-trace-commands/src",
        "src",
    ] {
        for file in rust_files(&root.join(dir)) {
            let relative = file
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if DEFINITIONS.contains(&relative.as_str()) {
                continue;
            }
            let text = fs::read_to_string(&file).unwrap();
            for (line_number, name) in written_names(&text) {
                found.push(format!("{relative}:{line_number}: \"{name}\""));
            }
        }
    }
    assert!(
        found.is_empty(),
        "names written outside redis-trace-core/src/semconv.rs (use its constants):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_finds_a_name_in_code_and_not_in_comments_or_tests() {
    let source = r#"
/// Records "db.query.text".
fn record(span: &mut Span) {
    span.set_attribute(KeyValue::new("db.query.text", "GET ?")); // "cache.hit"
    let label = "user.id";
}

#[cfg(test)]
mod tests {
    const EXPECTED: &str = "redis.key";
}
"#;
    assert_eq!(written_names(source), [(4, "db.query.text".to_owned())]);
}

/// The dotted names in `source`'s string literals, outside comments and test modules.
fn written_names(source: &str) -> Vec<(usize, String)> {
    let product = match source.find("#[cfg(test)]\nmod") {
        Some(at) => &source[..at],
        None => source,
    };
    let mut names = Vec::new();
    for (index, line) in product.lines().enumerate() {
        let code = match line.find("//") {
            Some(at) if !line[..at].ends_with(':') => &line[..at],
            _ => line,
        };
        for literal in code.split('"').skip(1).step_by(2) {
            let is_name = NAMESPACES
                .iter()
                .any(|ns| literal.starts_with(ns) && literal.len() > ns.len())
                && !literal.ends_with('.')
                && literal
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_');
            if is_name {
                names.push((index + 1, literal.to_owned()));
            }
        }
    }
    names
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}
