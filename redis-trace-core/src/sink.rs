//! Where attributes go: counted, or built into a list.
//!
//! Attribute code is written once against [`AttributeSink`]; values are built only when a sink
//! keeps them. Sizing a span's attribute list by running the same code into a [`Count`] means the
//! size cannot drift from what is pushed.

use opentelemetry::{KeyValue, Value};
use smallvec::SmallVec;

/// Attributes gathered on the stack: a span's extras before they move in, or a metric point's.
pub(crate) type InlineAttributes = SmallVec<[KeyValue; 12]>;

/// Receives attributes.
pub(crate) trait AttributeSink {
    /// Adds `key` with the value `value` builds, if this sink keeps values.
    fn add(&mut self, key: &'static str, value: impl FnOnce() -> Value);
}

/// Counts attributes without building them.
#[derive(Default)]
pub(crate) struct Count(pub(crate) usize);

impl AttributeSink for Count {
    fn add(&mut self, _key: &'static str, _value: impl FnOnce() -> Value) {
        self.0 += 1;
    }
}

impl AttributeSink for Vec<KeyValue> {
    fn add(&mut self, key: &'static str, value: impl FnOnce() -> Value) {
        self.push(KeyValue::new(key, value()));
    }
}

impl AttributeSink for InlineAttributes {
    fn add(&mut self, key: &'static str, value: impl FnOnce() -> Value) {
        self.push(KeyValue::new(key, value()));
    }
}
