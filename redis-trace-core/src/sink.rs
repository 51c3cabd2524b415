//! Where attributes go: a span's list, a started span, or a metric point's list on the stack.
//!
//! Attribute code is written once against [`AttributeSink`], for every list it fills.

use opentelemetry::{KeyValue, Value};
use smallvec::SmallVec;

/// Attributes gathered on the stack: a span's extras before they move in, or a metric point's.
pub(crate) type InlineAttributes = SmallVec<[KeyValue; 12]>;

/// Receives attributes.
pub(crate) trait AttributeSink {
    /// Adds `key` with the value `value` builds.
    fn add(&mut self, key: &'static str, value: impl FnOnce() -> Value);
}

impl AttributeSink for Vec<KeyValue> {
    // Inline: a span's creation attributes are five to eight pushes, each a call otherwise.
    #[inline]
    fn add(&mut self, key: &'static str, value: impl FnOnce() -> Value) {
        self.push(KeyValue::new(key, value()));
    }
}

/// A started span: each attribute set on it as it comes, with no list allocated for them.
impl AttributeSink for crate::tracer::AnySpan {
    fn add(&mut self, key: &'static str, value: impl FnOnce() -> Value) {
        opentelemetry::trace::Span::set_attribute(self, KeyValue::new(key, value()));
    }
}

impl AttributeSink for InlineAttributes {
    fn add(&mut self, key: &'static str, value: impl FnOnce() -> Value) {
        self.push(KeyValue::new(key, value()));
    }
}
