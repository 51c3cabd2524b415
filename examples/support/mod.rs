//! What the examples share: an in-memory tracer set-up, the Redis client, the span tree.

use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};

/// A tracer provider exporting into memory, installed globally, and its exporter.
pub fn install_tracer() -> (SdkTracerProvider, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    (provider, exporter)
}

/// A client for `REDIS_URL`, by default `redis://127.0.0.1:6379`.
pub fn redis_client() -> redis::RedisResult<redis::Client> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    redis::Client::open(url.as_str())
}

/// Prints `spans` as a tree: children under their parent, with duration and attributes: every
/// attribute, one per line, or only the `shown` ones on the span's line.
pub fn print_tree(spans: &[SpanData], shown: Option<&[&str]>) {
    let ids: Vec<_> = spans.iter().map(|s| s.span_context.span_id()).collect();
    for root in spans.iter().filter(|s| !ids.contains(&s.parent_span_id)) {
        print(spans, root, 0, shown);
    }
}

fn print(spans: &[SpanData], span: &SpanData, depth: usize, shown: Option<&[&str]>) {
    let indent = "  ".repeat(depth);
    let duration = span
        .end_time
        .duration_since(span.start_time)
        .unwrap_or_default();
    match shown {
        None => {
            println!(
                "{indent}{} [{:?}, {duration:?}] {:?}",
                span.name, span.span_kind, span.status
            );
            for attribute in &span.attributes {
                println!("{indent}  {} = {}", attribute.key, attribute.value);
            }
        }
        Some(keys) => {
            let shown: Vec<String> = span
                .attributes
                .iter()
                .filter(|kv| keys.contains(&kv.key.as_str()))
                .map(|kv| format!("{}={}", kv.key, kv.value))
                .collect();
            println!("{indent}{} ({duration:?}) {}", span.name, shown.join(" "));
        }
    }
    for child in spans
        .iter()
        .filter(|c| c.parent_span_id == span.span_context.span_id())
    {
        print(spans, child, depth + 1, shown);
    }
}
