//! Spans drawn for a terminal: a tree with a timeline, Jaeger-style.
//!
//! ```text
//! trace 6e0c63257de34c92bf9efcd03927272e · 3 spans · 1.24 ms
//! handle request        1.24 ms │████████████████████████████████████████│
//! ├─ load user        410.21 µs │██████████████                          │ redis.key=user:?  cache.hit=true
//! └─ wrong type       298.77 µs │                      ██████████        │ ✗ WRONGTYPE: Operation against…  error.type=WRONGTYPE
//! ```

use std::fmt::{self, Display, Formatter, Write as _};
use std::io::IsTerminal;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::trace::SpanData;

use super::tree::{SpanNode, SpanTree};
use crate::semconv;

/// The attributes shown on a span's line unless chosen otherwise: what tells Redis calls apart.
pub const DEFAULT_ATTRIBUTES: &[&str] = &[
    semconv::DB_QUERY_TEXT,
    semconv::REDIS_KEY,
    semconv::REDIS_KEYS,
    semconv::DB_OPERATION_BATCH_SIZE,
    semconv::REDIS_CLUSTER_SLOT,
    semconv::DB_STORED_PROCEDURE_NAME,
    semconv::CACHE_HIT,
    semconv::CACHE_HIT_COUNT,
    semconv::CACHE_MISS_COUNT,
    semconv::REDIS_APPLIED,
    semconv::MESSAGING_MESSAGE_ID,
    semconv::MESSAGING_BATCH_MESSAGE_COUNT,
    semconv::REDIS_STREAM_MAX_LAG,
    semconv::ERROR_TYPE,
];

/// The widest name column; longer names are cut with `…`.
const MAX_NAME_WIDTH: usize = 48;
/// The longest attribute value or status message shown on a span's line.
const MAX_VALUE_WIDTH: usize = 72;

/// Finished spans drawn as trees with a timeline, one trace after another; print it with
/// `{}` or [`TraceView::print`].
///
/// Each line is a span: its place in the tree, its name, its duration, a bar at its offset in
/// the trace and as long as its share of the trace's time, `✗` and the message for an error,
/// then chosen attributes (by default [`DEFAULT_ATTRIBUTES`]).
#[derive(Debug, Clone)]
pub struct TraceView {
    tree: SpanTree,
    shown: Shown,
    bar_width: usize,
    color: bool,
}

#[derive(Debug, Clone)]
enum Shown {
    Listed(Vec<String>),
    All,
}

impl TraceView {
    /// A view of `spans` (in any order), without color, with the default attributes.
    pub fn new(spans: Vec<SpanData>) -> Self {
        Self {
            tree: SpanTree::new(spans),
            shown: Shown::Listed(DEFAULT_ATTRIBUTES.iter().map(|&key| key.into()).collect()),
            bar_width: 40,
            color: false,
        }
    }

    /// Shows these attributes on each span's line, in this order, instead of the default ones.
    pub fn attributes(mut self, keys: &[&str]) -> Self {
        self.shown = Shown::Listed(keys.iter().map(|&key| key.into()).collect());
        self
    }

    /// Shows the span kind, every attribute and every event, one per line under the span.
    pub fn all_attributes(mut self) -> Self {
        self.shown = Shown::All;
        self
    }

    /// The timeline's width in characters (default 40).
    pub fn bar_width(mut self, width: usize) -> Self {
        self.bar_width = width.max(1);
        self
    }

    /// Colors errors red, bars cyan and attributes dim, with ANSI escapes.
    pub fn color(mut self, color: bool) -> Self {
        self.color = color;
        self
    }

    /// Prints the view to stdout, in color when stdout is a terminal and `NO_COLOR` is unset.
    pub fn print(self) {
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        print!("{}", self.color(color));
    }

    /// The name column: the deepest indent plus name; `lead` is the width of the branch drawn
    /// before roots (when a trace has several).
    fn name_width(&self, lead: usize) -> usize {
        let widest = self
            .tree
            .walk()
            .into_iter()
            .map(|(depth, node)| lead + 3 * depth + node.name().chars().count())
            .max()
            .unwrap_or(0);
        widest.min(MAX_NAME_WIDTH)
    }
}

impl Display for TraceView {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        // Roots of one trace together, traces in the order they started.
        let mut traces: Vec<Vec<&SpanNode>> = Vec::new();
        for root in &self.tree.roots {
            let trace_id = root.span.span_context.trace_id();
            match traces
                .iter_mut()
                .find(|roots| roots[0].span.span_context.trace_id() == trace_id)
            {
                Some(roots) => roots.push(root),
                None => traces.push(vec![root]),
            }
        }
        let several_roots = traces.iter().any(|roots| roots.len() > 1);
        let name_width = self.name_width(if several_roots { 3 } else { 0 });
        for (number, roots) in traces.into_iter().enumerate() {
            if number > 0 {
                writeln!(f)?;
            }
            let trace = Trace::of(&roots);
            let count: usize = roots.iter().map(|root| count(root)).sum();
            let id = roots[0].span.span_context.trace_id();
            let plural = if count == 1 { "" } else { "s" };
            let total = format_duration(trace.length);
            writeln!(f, "trace {id} · {count} span{plural} · {total}")?;
            for (index, root) in roots.iter().enumerate() {
                let last = index + 1 == roots.len() && roots.len() > 1;
                let lead = if roots.len() > 1 { branch(last) } else { "" };
                let line = Line {
                    view: self,
                    trace: &trace,
                    name_width,
                };
                let rest = if roots.len() > 1 {
                    continuation(last)
                } else {
                    ""
                };
                line.write(f, root, lead, rest)?;
            }
        }
        Ok(())
    }
}

/// The time span of one trace, which the bars are drawn against.
struct Trace {
    start: SystemTime,
    length: Duration,
}

impl Trace {
    fn of(roots: &[&SpanNode]) -> Self {
        let mut start = roots[0].span.start_time;
        let mut end = roots[0].span.end_time;
        for root in roots {
            visit(root, &mut |span| {
                start = start.min(span.start_time);
                end = end.max(span.end_time);
            });
        }
        let length = end.duration_since(start).unwrap_or_default();
        Self { start, length }
    }

    /// The bar of `span`: blanks up to its offset, then at least one block.
    fn bar(&self, span: &SpanData, width: usize) -> String {
        let offset = span
            .start_time
            .duration_since(self.start)
            .unwrap_or_default();
        let length = duration(span);
        let total = self.length.as_secs_f64();
        let scale = |part: Duration| {
            if total > 0.0 {
                (part.as_secs_f64() / total * width as f64).round() as usize
            } else {
                0
            }
        };
        let begin = scale(offset).min(width - 1);
        let blocks = scale(length).clamp(1, width - begin);
        format!(
            "{}{}{}",
            " ".repeat(begin),
            "█".repeat(blocks),
            " ".repeat(width - begin - blocks)
        )
    }
}

/// Writes one span's line (and, recursively, its children's).
struct Line<'a> {
    view: &'a TraceView,
    trace: &'a Trace,
    name_width: usize,
}

impl Line<'_> {
    /// `lead` draws this span's branch, `rest` what its children's lines start with.
    fn write(&self, f: &mut Formatter<'_>, node: &SpanNode, lead: &str, rest: &str) -> fmt::Result {
        let span = &node.span;
        let color = self.view.color;
        let label = cut(&format!("{lead}{}", span.name), self.name_width);
        let padding = self.name_width.saturating_sub(label.chars().count());
        let bar = self.trace.bar(span, self.view.bar_width);
        let time = format_duration(duration(span));
        write!(f, "{label}{:padding$} {time:>9} ", "")?;
        write_styled(f, color, CYAN, &format!("│{bar}│"))?;
        if let Status::Error { description } = &span.status {
            write!(f, " ")?;
            write_styled(
                f,
                color,
                RED,
                &format!("✗ {}", cut(description, MAX_VALUE_WIDTH)),
            )?;
        }
        match &self.view.shown {
            Shown::Listed(keys) => {
                for key in keys {
                    let found = span.attributes.iter().find(|kv| kv.key.as_str() == key);
                    if let Some(kv) = found {
                        let value = cut(&kv.value.to_string(), MAX_VALUE_WIDTH);
                        write!(f, " ")?;
                        write_styled(f, color, DIM, &format!(" {key}={value}"))?;
                    }
                }
                writeln!(f)?;
            }
            Shown::All => {
                writeln!(f)?;
                let indent = format!(
                    "{rest}{}   ",
                    if node.children.is_empty() { " " } else { "│" }
                );
                let kind = kind_name(&span.span_kind);
                write_styled(f, color, DIM, &format!("{indent}span.kind = {kind}"))?;
                writeln!(f)?;
                for kv in &span.attributes {
                    write_styled(f, color, DIM, &format!("{indent}{} = {}", kv.key, kv.value))?;
                    writeln!(f)?;
                }
                for event in span.events.iter() {
                    let fields: Vec<String> = (event.attributes.iter())
                        .map(|kv| format!("{}={}", kv.key, kv.value))
                        .collect();
                    let line = format!("{indent}event {:?} {}", event.name, fields.join(" "));
                    write_styled(f, color, DIM, line.trim_end())?;
                    writeln!(f)?;
                }
            }
        }
        for (index, child) in node.children.iter().enumerate() {
            let last = index + 1 == node.children.len();
            let lead = format!("{rest}{}", branch(last));
            let child_rest = format!("{rest}{}", continuation(last));
            self.write(f, child, &lead, &child_rest)?;
        }
        Ok(())
    }
}

const RED: &str = "\x1b[31m";
const CYAN: &str = "\x1b[36m";
const DIM: &str = "\x1b[2m";

fn write_styled(f: &mut Formatter<'_>, color: bool, style: &str, text: &str) -> fmt::Result {
    if color {
        write!(f, "{style}{text}\x1b[0m")
    } else {
        f.write_str(text)
    }
}

fn branch(last: bool) -> &'static str {
    if last {
        "└─ "
    } else {
        "├─ "
    }
}

fn continuation(last: bool) -> &'static str {
    if last {
        "   "
    } else {
        "│  "
    }
}

fn kind_name(kind: &SpanKind) -> &'static str {
    match kind {
        SpanKind::Client => "CLIENT",
        SpanKind::Server => "SERVER",
        SpanKind::Producer => "PRODUCER",
        SpanKind::Consumer => "CONSUMER",
        SpanKind::Internal => "INTERNAL",
    }
}

pub(super) fn duration(span: &SpanData) -> Duration {
    span.end_time
        .duration_since(span.start_time)
        .unwrap_or_default()
}

fn count(node: &SpanNode) -> usize {
    1 + node.children.iter().map(count).sum::<usize>()
}

fn visit(node: &SpanNode, each: &mut impl FnMut(&SpanData)) {
    each(&node.span);
    for child in &node.children {
        visit(child, each);
    }
}

/// `text` cut to `width` characters, ending with `…` when cut; control characters as spaces.
pub(super) fn cut(text: &str, width: usize) -> String {
    let clean = |c: char| if c.is_control() { ' ' } else { c };
    if text.chars().count() <= width {
        return text.chars().map(clean).collect();
    }
    let mut cut: String = text
        .chars()
        .take(width.saturating_sub(1))
        .map(clean)
        .collect();
    cut.push('…');
    cut
}

/// `850 ns`, `412.31 µs`, `3.21 ms`, `1.20 s`.
pub(super) fn format_duration(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    let mut text = String::new();
    let _ = match nanos {
        0..=999 => write!(text, "{nanos} ns"),
        1_000..=999_999 => write!(text, "{:.2} µs", nanos as f64 / 1e3),
        1_000_000..=999_999_999 => write!(text, "{:.2} ms", nanos as f64 / 1e6),
        _ => write!(text, "{:.2} s", nanos as f64 / 1e9),
    };
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{Span, TraceContextExt, Tracer, TracerProvider};
    use opentelemetry::KeyValue;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

    /// Spans with fixed times: a request of 4 ms, a 1 ms child at 0 ms, a failed one at 2 ms.
    fn spans() -> Vec<SpanData> {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let tracer = provider.tracer("view");
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let request = tracer
            .span_builder("request")
            .with_start_time(t0)
            .start(&tracer);
        let cx = opentelemetry::Context::current_with_span(request);
        let mut load = tracer
            .span_builder("load user")
            .with_start_time(t0)
            .with_attributes([
                KeyValue::new("redis.key", "user:?"),
                KeyValue::new("cache.hit", true),
                KeyValue::new("code.line.number", 7),
            ])
            .start_with_context(&tracer, &cx);
        load.end_with_timestamp(ms(1));
        let mut failed = tracer
            .span_builder("wrong type")
            .with_start_time(ms(2))
            .with_attributes([KeyValue::new("error.type", "WRONGTYPE")])
            .start_with_context(&tracer, &cx);
        failed.set_status(Status::error("WRONGTYPE: Operation\nagainst a key"));
        failed.end_with_timestamp(ms(3));
        cx.span().end_with_timestamp(ms(4));
        exporter.get_finished_spans().unwrap()
    }

    #[test]
    fn draws_the_tree_with_bars_at_their_offsets() {
        let spans = spans();
        let id = spans[0].span_context.trace_id();
        let drawn = TraceView::new(spans).bar_width(8).to_string();
        let expected = format!(
            "trace {id} · 3 spans · 4.00 ms\n\
             request         4.00 ms │████████│\n\
             ├─ load user    1.00 ms │██      │  redis.key=user:?  cache.hit=true\n\
             └─ wrong type   1.00 ms │    ██  │ ✗ WRONGTYPE: Operation against a key  error.type=WRONGTYPE\n"
        );
        assert_eq!(drawn, expected);
    }

    #[test]
    fn all_attributes_lists_the_kind_and_every_attribute() {
        let drawn = TraceView::new(spans())
            .all_attributes()
            .bar_width(4)
            .to_string();
        assert!(
            drawn.contains("├─ load user    1.00 ms │█   │\n│      span.kind = INTERNAL\n"),
            "{drawn}"
        );
        assert!(drawn.contains("│      code.line.number = 7\n"), "{drawn}");
    }

    #[test]
    fn color_wraps_errors_bars_and_attributes_in_escapes() {
        let drawn = TraceView::new(spans()).color(true).to_string();
        assert!(drawn.contains("\x1b[31m✗ WRONGTYPE"), "{drawn}");
        assert!(drawn.contains("\x1b[36m│"), "{drawn}");
        assert!(drawn.contains("\x1b[2m redis.key=user:?\x1b[0m"), "{drawn}");
    }

    #[test]
    fn long_names_and_values_are_cut() {
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("a\tb", 4), "a b");
        assert_eq!(format_duration(Duration::from_nanos(999)), "999 ns");
        assert_eq!(format_duration(Duration::from_micros(1500)), "1.50 ms");
        assert_eq!(format_duration(Duration::from_secs(2)), "2.00 s");
    }
}
