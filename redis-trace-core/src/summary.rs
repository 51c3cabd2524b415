//! `db.query.summary` of a traced connection's commands (opt-in): the command and its keys as
//! the pattern policy renders them (`GET user:?`), within a cardinality budget.
//!
//! An annotated function's summary is its key template, computed by the macro; a connection
//! only sees rendered keys, whose shapes are unbounded in general (a key with an id the pattern
//! policy does not recognise). So each configuration carries a [`SummaryBudget`]: the first
//! `limit` distinct summaries are kept, every later one falls back to the operation name
//! (`GET`), and the fallbacks are counted (`redis_trace.query_summary.overflows`); the first
//! one is reported by an event on its span (`redis_trace.query_summary.limit_reached`).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use opentelemetry::StringValue;
use redis_trace_commands::lookup_args;

use crate::intern;
use crate::key::KeyPolicy;
use crate::text::truncate_on_char_boundary;

/// Longest summary, in bytes (a command with many distinct key patterns).
const MAX_SUMMARY_LEN: usize = 256;

/// Distinct summaries a configuration keeps by default (`REDIS_TRACE_QUERY_SUMMARY_LIMIT`).
pub(crate) const DEFAULT_SUMMARY_LIMIT: usize = 1000;

/// The summaries given out under one configuration, and how many fell back.
#[derive(Debug, Default)]
pub(crate) struct SummaryBudget {
    kept: Mutex<HashSet<Box<str>>>,
    overflows: AtomicU64,
    reported: AtomicBool,
}

/// Whether building a summary overflowed the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overflow {
    No,
    Yes,
    /// The budget's first overflow: the one reported.
    First,
}

impl SummaryBudget {
    /// `summary` if it is kept or there is room for it, else `fallback`, with whether this call
    /// overflowed.
    fn admit(&self, summary: &str, fallback: &str, limit: usize) -> (StringValue, Overflow) {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.contains(summary) {
            return (intern::share(summary), Overflow::No);
        }
        if kept.len() < limit {
            kept.insert(summary.into());
            return (intern::share(summary), Overflow::No);
        }
        drop(kept);
        self.overflows.fetch_add(1, Ordering::Relaxed);
        let first = !self.reported.swap(true, Ordering::Relaxed);
        let overflow = if first {
            Overflow::First
        } else {
            Overflow::Yes
        };
        (intern::share(fallback), overflow)
    }

    /// How many summaries fell back to the operation name so far.
    pub(crate) fn overflows(&self) -> u64 {
        self.overflows.load(Ordering::Relaxed)
    }
}

/// What a summary is built with: the budget and limit, and the key rendering.
pub(crate) struct SummaryRules<'a> {
    pub(crate) budget: &'a SummaryBudget,
    pub(crate) limit: usize,
    pub(crate) key_policy: &'a KeyPolicy,
    pub(crate) max_key_length: usize,
}

/// A summary and whether building it overflowed the budget.
pub(crate) struct Summary {
    pub(crate) text: StringValue,
    pub(crate) overflow: Overflow,
}

impl Summary {
    /// Whether building it was the budget's first overflow (reported on its span).
    pub(crate) fn is_first_overflow(&self) -> bool {
        self.overflow == Overflow::First
    }
}

impl SummaryRules<'_> {
    /// `{operation} {key} {key}...` of the command `args`, its keys rendered by the pattern
    /// policy. `None` for a command without keys, and under a key policy that hides key shapes
    /// (`hash`, `omit`, custom): the summary must not say more than the keys do.
    pub(crate) fn command(&self, operation: &str, args: &[&[u8]]) -> Option<Summary> {
        if !matches!(self.key_policy, KeyPolicy::Pattern | KeyPolicy::Raw) {
            return None;
        }
        let positions = lookup_args(args)?.key_positions(args);
        if positions.is_empty() {
            return None;
        }
        // Each distinct pattern once, in order: an MGET of 3 or 300 `user:?` keys is one
        // summary, not one per key count.
        let mut patterns: Vec<String> = Vec::new();
        for position in positions {
            let rendered = KeyPolicy::Pattern.render(args[position], self.max_key_length);
            let rendered = rendered.unwrap_or_else(|| "?".to_owned());
            if !patterns.contains(&rendered) {
                patterns.push(rendered);
            }
        }
        let text = format!("{operation} {}", patterns.join(" "));
        let text = truncate_on_char_boundary(&text, MAX_SUMMARY_LEN);
        let (text, overflow) = self.budget.admit(text, operation, self.limit);
        Some(Summary { text, overflow })
    }

    /// A pipeline's or transaction's summary, by the conventions' batch rule: `BATCH {summary}`
    /// when every command has the same one, else `kind` (`PIPELINE`, `MULTI`).
    pub(crate) fn batch(&self, kind: &str, commands: &[Option<Summary>]) -> Summary {
        let first = commands.first().and_then(Option::as_ref);
        let shared = first.filter(|first| {
            commands.iter().all(|summary| {
                summary
                    .as_ref()
                    .is_some_and(|summary| summary.text == first.text)
            })
        });
        // The batch's overflow is the most telling of its commands' and its own.
        let worst = |a: Overflow, b: Overflow| match (a, b) {
            (Overflow::First, _) | (_, Overflow::First) => Overflow::First,
            (Overflow::Yes, _) | (_, Overflow::Yes) => Overflow::Yes,
            _ => Overflow::No,
        };
        let commands_overflow = (commands.iter().flatten())
            .map(|summary| summary.overflow)
            .fold(Overflow::No, worst);
        match shared {
            Some(shared) => {
                let batch = format!("BATCH {}", shared.text.as_str());
                let (text, overflow) = self.budget.admit(&batch, kind, self.limit);
                Summary {
                    text,
                    overflow: worst(commands_overflow, overflow),
                }
            }
            None => Summary {
                text: intern::share(kind),
                overflow: commands_overflow,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules<'a>(budget: &'a SummaryBudget, policy: &'a KeyPolicy) -> SummaryRules<'a> {
        SummaryRules {
            budget,
            limit: 2,
            key_policy: policy,
            max_key_length: 256,
        }
    }

    #[test]
    fn commands_are_summarized_by_their_key_patterns_within_the_budget() {
        let budget = SummaryBudget::default();
        let long = [b"MGET".to_vec()]
            .into_iter()
            .chain((0..200).map(|i| format!("k{i}:x").into_bytes()))
            .collect::<Vec<_>>();
        let long: Vec<&[u8]> = long.iter().map(Vec::as_slice).collect();
        let capped = rules(&budget, &KeyPolicy::Pattern)
            .command("MGET", &long)
            .unwrap();
        assert!(capped.text.as_str().len() <= MAX_SUMMARY_LEN);
        let budget = SummaryBudget::default();
        let rules = rules(&budget, &KeyPolicy::Pattern);
        let text = |args: &[&[u8]]| rules.command("X", args).map(|s| s.text.to_string());
        assert_eq!(text(&[b"GET", b"user:42"]).unwrap(), "X user:?");
        assert_eq!(text(&[b"MGET", b"a:1", b"b:2"]).unwrap(), "X a:? b:?");
        assert_eq!(
            text(&[b"MGET", b"a:1", b"a:2", b"b:3"]).unwrap(),
            "X a:? b:?",
            "each once"
        );
        assert_eq!(text(&[b"PING"]), None, "no keys, no summary");
        // The budget (2) is full: a third shape falls back, counted; kept ones still pass.
        let first = rules.command("X", &[b"GET", b"order:7"]).unwrap();
        assert_eq!(
            (first.text.as_str(), first.overflow),
            ("X", Overflow::First)
        );
        assert_eq!(text(&[b"GET", b"user:43"]).unwrap(), "X user:?");
        assert_eq!(budget.overflows(), 1);
        // Only the first overflow is the one reported.
        let again = rules.command("X", &[b"GET", b"cart:9"]).unwrap();
        assert_eq!((again.text.as_str(), again.overflow), ("X", Overflow::Yes));
        assert_eq!(budget.overflows(), 2);
    }

    #[test]
    fn hidden_key_shapes_give_no_summary() {
        let budget = SummaryBudget::default();
        for policy in [KeyPolicy::Omit, KeyPolicy::hash_with_secret("s")] {
            assert!(rules(&budget, &policy)
                .command("GET", &[b"GET", b"user:1"])
                .is_none());
        }
    }

    #[test]
    fn batches_follow_the_conventions_rule() {
        let budget = SummaryBudget::default();
        let rules = rules(&budget, &KeyPolicy::Pattern);
        let same = [
            rules.command("GET", &[b"GET", b"user:1"]),
            rules.command("GET", &[b"GET", b"user:2"]),
        ];
        assert_eq!(
            rules.batch("PIPELINE", &same).text.as_str(),
            "BATCH GET user:?"
        );
        let mixed = [rules.command("GET", &[b"GET", b"user:1"]), None];
        assert_eq!(rules.batch("MULTI", &mixed).text.as_str(), "MULTI");
    }
}
