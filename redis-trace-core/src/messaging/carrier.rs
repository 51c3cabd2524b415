//! Trace context to and from carrier fields, through the globally configured
//! `TextMapPropagator`; W3C trace context when none is configured (the global default injects
//! nothing).

use std::collections::HashMap;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry::Context;
use opentelemetry_sdk::propagation::TraceContextPropagator;

/// At most this many carrier fields are read, each name and value at most this long: a forged
/// carrier costs nothing more.
const MAX_FIELDS: usize = 8;
const MAX_FIELD_LEN: usize = 512;

/// The carrier fields that carry `cx` (`traceparent`, `tracestate` with W3C); empty when it
/// holds no valid span context.
pub(crate) fn inject(cx: &Context) -> Vec<(String, String)> {
    if !cx.span().span_context().is_valid() {
        return Vec::new();
    }
    let mut fields = Fields::default();
    with_propagator(|propagator| propagator.inject_context(cx, &mut fields));
    fields.0.retain(|(name, value)| valid(name, value));
    fields.0
}

/// The remote span context `fields` carry, if they carry a valid one; anything else (missing,
/// truncated, garbage, oversized, an unknown version) is none.
pub(crate) fn extract<'a>(
    fields: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<SpanContext> {
    let carrier = Carrier::of(fields)?;
    with_propagator(|propagator| carrier.extract(propagator))
}

/// The carrier fields read from a message (at most [`MAX_FIELDS`] valid ones), borrowed: what
/// the propagator extracts from.
pub(crate) struct Carrier<'a> {
    fields: [(&'a str, &'a str); MAX_FIELDS],
    len: usize,
}

impl<'a> Carrier<'a> {
    /// The valid fields among `fields`; `None` when there is none.
    pub(crate) fn of(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<Self> {
        let mut carrier = Self {
            fields: [("", ""); MAX_FIELDS],
            len: 0,
        };
        for field in (fields.into_iter())
            .filter(|(name, value)| valid(name, value))
            .take(MAX_FIELDS)
        {
            carrier.fields[carrier.len] = field;
            carrier.len += 1;
        }
        (carrier.len > 0).then_some(carrier)
    }

    fn fields(&self) -> &[(&'a str, &'a str)] {
        &self.fields[..self.len]
    }

    /// The remote span context `propagator` reads from these fields, if valid. Names are
    /// matched as lower case (the last of equal names wins).
    pub(crate) fn extract(&self, propagator: &dyn TextMapPropagator) -> Option<SpanContext> {
        let cx = if (self.fields().iter())
            .any(|(name, _)| name.bytes().any(|b| b.is_ascii_uppercase()))
        {
            // Names as written by another client: the propagator reads lower-cased copies.
            let carrier: HashMap<String, String> = (self.fields().iter())
                .map(|(name, value)| (name.to_ascii_lowercase(), (*value).to_owned()))
                .collect();
            propagator.extract(&carrier)
        } else {
            propagator.extract(self)
        };
        let span_context = cx.span().span_context().clone();
        span_context.is_valid().then_some(span_context)
    }
}

/// Read as a map of lower-case names (every name is lower case here).
impl Extractor for Carrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        if key.bytes().any(|b| b.is_ascii_uppercase()) {
            return None;
        }
        (self.fields().iter().rev())
            .find(|(name, _)| *name == key)
            .map(|(_, value)| *value)
    }

    fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = Vec::with_capacity(self.len);
        for (name, _) in self.fields() {
            if !keys.contains(name) {
                keys.push(name);
            }
        }
        keys
    }
}

/// Whether `name` is one of the fields `propagator` writes (trace context, not payload data).
pub(crate) fn is_field(propagator: &dyn TextMapPropagator, name: &[u8]) -> bool {
    (propagator.fields()).any(|known| known.as_bytes().eq_ignore_ascii_case(name))
}

/// A field worth carrying: named, not empty (W3C writes an empty `tracestate`), printable
/// ASCII without `&` (the envelope's separator), not oversized.
fn valid(name: &str, value: &str) -> bool {
    !name.is_empty()
        && !value.is_empty()
        && name.len() <= MAX_FIELD_LEN
        && value.len() <= MAX_FIELD_LEN
        && printable(name)
        && printable(value)
}

/// Printable ASCII without `&`. Each text on its own, every byte looked at: a chained
/// iterator or an early exit keeps the loop from taking 16 bytes a step, and a `traceparent`
/// is 55 bytes on every message sent and received.
fn printable(text: &str) -> bool {
    let unprintable = |b: u8| u8::from(b.wrapping_sub(0x20) >= 0x5f) | u8::from(b == b'&');
    text.bytes().fold(0, |bad, b| bad | unprintable(b)) == 0
}

pub(crate) fn with_propagator<T>(run: impl FnOnce(&dyn TextMapPropagator) -> T) -> T {
    let mut run = Some(run);
    let configured = opentelemetry::global::get_text_map_propagator(|global| {
        if global.fields().next().is_some() {
            run.take().map(|run| run(global))
        } else {
            None
        }
    });
    match (configured, run) {
        (Some(result), _) => result,
        (None, Some(run)) => run(&TraceContextPropagator::new()),
        (None, None) => unreachable!("the closure ran only when it returned Some"),
    }
}

#[derive(Default)]
struct Fields(Vec<(String, String)>);

impl Injector for Fields {
    fn set(&mut self, key: &str, value: String) {
        self.0.push((key.to_owned(), value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TraceState};

    fn context() -> Context {
        let span_context = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        );
        Context::new().with_remote_span_context(span_context)
    }

    #[test]
    fn w3c_by_default_both_ways() {
        let fields = inject(&context());
        assert_eq!(
            fields,
            [(
                "traceparent".to_owned(),
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned()
            )]
        );
        let extracted = extract(fields.iter().map(|(n, v)| (n.as_str(), v.as_str()))).unwrap();
        assert_eq!(
            extracted.trace_id(),
            context().span().span_context().trace_id()
        );
        assert!(extracted.is_remote());
        with_propagator(|propagator| {
            assert!(is_field(propagator, b"traceparent"));
            assert!(is_field(propagator, b"TraceState"));
            assert!(!is_field(propagator, b"payload"));
        });
    }

    #[test]
    fn no_span_no_carrier() {
        assert!(inject(&Context::new()).is_empty());
    }

    #[test]
    fn malformed_carriers_are_none() {
        let long = "0".repeat(10_000);
        for value in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736",
            "garbage",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01x",
            long.as_str(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\u{7f}",
        ] {
            assert_eq!(extract([("traceparent", value)]), None, "{value:?}");
        }
    }
}

#[cfg(test)]
mod carrier_tests {
    use super::*;

    /// Printable ASCII without `&`, byte by byte and anywhere in a longer text.
    #[test]
    fn printable_means_visible_ascii_or_space_without_ampersands() {
        for byte in 0..=u8::MAX {
            let expected = (0x20..0x7f).contains(&byte) && byte != b'&';
            let mut text = "00-4bf92f3577b34da6a3ce929d0e0e4736-"
                .repeat(2)
                .into_bytes();
            text.insert(29, byte);
            let text = String::from_utf8_lossy(&text);
            assert_eq!(printable(&text), expected, "{byte:#04x}");
        }
    }

    const FIRST: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const SECOND: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b8-01";

    fn span_of(fields: &[(&str, &str)]) -> Option<String> {
        extract(fields.iter().copied()).map(|cx| cx.span_id().to_string())
    }

    #[test]
    fn names_are_read_as_lower_case_and_the_last_wins() {
        assert_eq!(
            span_of(&[("TraceParent", FIRST)]).as_deref(),
            Some("00f067aa0ba902b7")
        );
        assert_eq!(
            span_of(&[("traceparent", FIRST), ("traceparent", SECOND)]).as_deref(),
            Some("00f067aa0ba902b8")
        );
        assert_eq!(
            span_of(&[("traceparent", FIRST), ("TRACEPARENT", SECOND)]).as_deref(),
            Some("00f067aa0ba902b8")
        );
        assert_eq!(span_of(&[("trace-parent", FIRST)]), None);
    }

    #[test]
    fn the_extractor_answers_lower_case_keys_only() {
        let carrier = Carrier::of([("traceparent", FIRST), ("a", "1"), ("a", "2")]).unwrap();
        assert_eq!(carrier.get("traceparent"), Some(FIRST));
        assert_eq!(carrier.get("TraceParent"), None);
        assert_eq!(carrier.get("a"), Some("2"));
        assert_eq!(carrier.keys(), ["traceparent", "a"]);
        assert!(Carrier::of([("", "x"), ("x", "")]).is_none());
    }
}
