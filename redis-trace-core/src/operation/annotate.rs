//! What a traced connection adds to an operation's span between its start and its end.

use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, KeyValue};

use super::Operation;

impl Operation {
    /// Adds the event `name` to the span, if one is recorded.
    pub(crate) fn add_event(&self, name: &'static str) {
        if let Some(cx) = self.span_context() {
            cx.span().add_event(name, Vec::new());
        }
    }

    /// Sets `attribute` on the span, if one is recorded.
    pub(crate) fn set_attribute(&self, attribute: KeyValue) {
        if let Some(cx) = self.span_context() {
            cx.span().set_attribute(attribute);
        }
    }

    /// The context holding the span, if one was started (recorded or not): what a message
    /// carries to its consumers.
    pub(crate) fn span_context(&self) -> Option<&Context> {
        self.active.as_ref()?.span.as_ref()
    }
}
