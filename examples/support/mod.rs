//! Printing finished spans as a tree, shared by the examples (each uses one detail level).
#![allow(dead_code)]

use opentelemetry_sdk::trace::SpanData;

/// How much of each span to print.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Every attribute, one per line.
    AllAttributes,
    /// The statement, batch size, cluster slot and error type on the span's line.
    Statements,
}

/// Prints `spans` as a tree: children under their parent, with duration and attributes.
pub fn print_tree(spans: &[SpanData], detail: Detail) {
    let ids: Vec<_> = spans.iter().map(|s| s.span_context.span_id()).collect();
    for root in spans.iter().filter(|s| !ids.contains(&s.parent_span_id)) {
        print(spans, root, 0, detail);
    }
}

fn print(spans: &[SpanData], span: &SpanData, depth: usize, detail: Detail) {
    let indent = "  ".repeat(depth);
    let duration = span
        .end_time
        .duration_since(span.start_time)
        .unwrap_or_default();
    match detail {
        Detail::AllAttributes => {
            println!(
                "{indent}{} [{:?}, {duration:?}] {:?}",
                span.name, span.span_kind, span.status
            );
            for attribute in &span.attributes {
                println!("{indent}  {} = {}", attribute.key, attribute.value);
            }
        }
        Detail::Statements => {
            let shown: Vec<String> = span
                .attributes
                .iter()
                .filter(|kv| {
                    matches!(
                        kv.key.as_str(),
                        "db.query.text"
                            | "db.operation.batch.size"
                            | "redis.cluster.slot"
                            | "error.type"
                    )
                })
                .map(|kv| format!("{}={}", kv.key, kv.value))
                .collect();
            println!("{indent}{} ({duration:?}) {}", span.name, shown.join(" "));
        }
    }
    for child in spans
        .iter()
        .filter(|c| c.parent_span_id == span.span_context.span_id())
    {
        print(spans, child, depth + 1, detail);
    }
}
