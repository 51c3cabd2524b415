//! Finished spans arranged as trees: each span under its parent.

use opentelemetry::trace::SpanId;
use opentelemetry_sdk::trace::SpanData;

/// Finished spans as trees. A span whose parent is not among them (a root span, or a child of a
/// remote or unfinished span) is a root.
#[derive(Debug, Clone)]
pub struct SpanTree {
    /// The root spans, in start order.
    pub roots: Vec<SpanNode>,
}

/// One span and its children.
#[derive(Debug, Clone)]
pub struct SpanNode {
    /// The span.
    pub span: SpanData,
    /// Its children, in start order.
    pub children: Vec<SpanNode>,
}

impl SpanTree {
    /// Arranges `spans` by their parent span ids.
    pub fn new(mut spans: Vec<SpanData>) -> Self {
        spans.sort_by_key(|span| span.start_time);
        let ids: Vec<SpanId> = spans.iter().map(|s| s.span_context.span_id()).collect();
        let (roots, mut rest): (Vec<_>, Vec<_>) = spans
            .into_iter()
            .partition(|span| !ids.contains(&span.parent_span_id));
        let roots = roots
            .into_iter()
            .map(|span| SpanNode::adopt(span, &mut rest))
            .collect();
        Self { roots }
    }

    /// The first span named `name`, depth first.
    pub fn find(&self, name: &str) -> Option<&SpanNode> {
        self.roots.iter().find_map(|root| root.find(name))
    }

    /// Every span, depth first, with its depth (roots are at 0).
    pub fn walk(&self) -> Vec<(usize, &SpanNode)> {
        let mut walked = Vec::new();
        for root in &self.roots {
            root.walk(0, &mut walked);
        }
        walked
    }

    /// The span names indented by depth, one per line: a compact shape to compare in a test.
    pub fn outline(&self) -> String {
        self.walk()
            .into_iter()
            .map(|(depth, node)| format!("{}{}\n", "  ".repeat(depth), node.span.name))
            .collect()
    }
}

impl SpanNode {
    /// `span` with its descendants taken out of `rest`.
    fn adopt(span: SpanData, rest: &mut Vec<SpanData>) -> Self {
        let id = span.span_context.span_id();
        let (children, others): (Vec<_>, Vec<_>) = std::mem::take(rest)
            .into_iter()
            .partition(|child| child.parent_span_id == id);
        *rest = others;
        let children = children
            .into_iter()
            .map(|child| Self::adopt(child, rest))
            .collect();
        Self { span, children }
    }

    /// The span's name.
    pub fn name(&self) -> &str {
        &self.span.name
    }

    /// The first direct child named `name`.
    pub fn child(&self, name: &str) -> Option<&SpanNode> {
        self.children.iter().find(|child| child.span.name == name)
    }

    /// This span or the first descendant named `name`, depth first.
    pub fn find(&self, name: &str) -> Option<&SpanNode> {
        if self.span.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|child| child.find(name))
    }

    fn walk<'a>(&'a self, depth: usize, walked: &mut Vec<(usize, &'a SpanNode)>) {
        walked.push((depth, self));
        for child in &self.children {
            child.walk(depth + 1, walked);
        }
    }
}
