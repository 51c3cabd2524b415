//! `db.query.summary` of a traced connection's commands (opt-in): the command and its keys as
//! the pattern policy renders them (`GET user:?`), within a cardinality budget.
//!
//! An annotated function's summary is its key template, computed by the macro; a connection
//! only sees rendered keys, whose shapes are unbounded in general (a key with an id the pattern
//! policy does not recognise). So each configuration carries a [`SummaryBudget`]: the first
//! `limit` distinct summaries are kept, every later one falls back to the operation name
//! (`GET`), and the fallbacks are counted (`redis_trace.query_summary.overflows`); the first
//! one whose span is kept reports it, by the event `redis_trace.query_summary.limit_reached`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use opentelemetry::StringValue;
use redis_trace_commands::{lookup_args, Command};

use crate::intern;
use crate::key::KeyPolicy;
use crate::text::{truncate_on_char_boundary, TextBuf};

/// Longest summary, in bytes (a command with many distinct key patterns).
const MAX_SUMMARY_LEN: usize = 256;

/// Distinct summaries a configuration keeps by default (`REDIS_TRACE_QUERY_SUMMARY_LIMIT`).
pub(crate) const DEFAULT_SUMMARY_LIMIT: usize = 1000;

/// The summaries given out under one configuration, and how many fell back.
#[derive(Default)]
pub(crate) struct SummaryBudget {
    /// Each kept summary with the shared value every span and point of it carries.
    kept: Mutex<HashMap<Box<str>, StringValue>>,
    overflows: AtomicU64,
    reported: AtomicBool,
}

impl std::fmt::Debug for SummaryBudget {
    // Counts, not the up to `limit` key patterns it keeps.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kept = self.kept.lock().map_or(0, |kept| kept.len());
        f.debug_struct("SummaryBudget")
            .field("kept", &kept)
            .field("overflows", &self.overflows())
            .finish()
    }
}

impl SummaryBudget {
    /// `summary` if it is kept or there is room for it, else `fallback`, with whether this call
    /// overflowed.
    fn admit(&self, summary: &str, fallback: &str, limit: usize) -> (StringValue, bool) {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(shared) = kept.get(summary) {
            return (shared.clone(), false);
        }
        if kept.len() < limit {
            let shared = StringValue::from(Arc::<str>::from(summary));
            kept.insert(summary.into(), shared.clone());
            return (shared, false);
        }
        drop(kept);
        self.overflows.fetch_add(1, Ordering::Relaxed);
        (intern::share(fallback), true)
    }

    /// Whether the caller is the first to report an overflow (then it does, once).
    pub(crate) fn claim_report(&self) -> bool {
        !self.reported.swap(true, Ordering::Relaxed)
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
    pub(crate) overflowed: bool,
}

/// Keys a summary looks at: a command with more gets the patterns of its first ones.
const MAX_SUMMARY_KEYS: usize = 64;

/// Where a summary is written and its key positions found: this thread's buffers, so a
/// summary already kept costs no allocation.
#[derive(Default)]
struct Scratch {
    text: String,
    positions: Vec<usize>,
    /// Where each distinct pattern sits in `text`.
    patterns: Vec<(usize, usize)>,
    /// Where one key's pattern is rendered.
    key: TextBuf,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// Runs `build` with this thread's scratch buffers (fresh ones when they are in use).
fn with_scratch<R>(build: impl FnOnce(&mut Scratch) -> R) -> R {
    let taken = SCRATCH.try_with(|cell| cell.try_borrow_mut().map(|mut s| std::mem::take(&mut *s)));
    let mut scratch = taken.ok().and_then(Result::ok).unwrap_or_default();
    let built = build(&mut scratch);
    let _ = SCRATCH.try_with(|cell| {
        if let Ok(mut kept) = cell.try_borrow_mut() {
            *kept = scratch;
        }
    });
    built
}

impl SummaryRules<'_> {
    /// Writes `{operation} {pattern} {pattern}...` to `scratch.text`: the command's keys as the
    /// pattern policy renders them, each distinct pattern once, from its first keys, at most
    /// 256 bytes. `false` for a command without keys, and under a key policy that hides key
    /// shapes (`hash`, `omit`, custom): the summary must not say more than the keys do.
    fn render(
        &self,
        operation: &str,
        known: Option<&'static Command>,
        args: &[&[u8]],
        scratch: &mut Scratch,
    ) -> bool {
        if !matches!(self.key_policy, KeyPolicy::Pattern | KeyPolicy::Raw) {
            return false;
        }
        let Some(command) = known.or_else(|| lookup_args(args)) else {
            return false;
        };
        let Scratch {
            text,
            positions,
            patterns,
            key,
        } = scratch;
        command.key_positions_into(args, positions);
        if positions.is_empty() {
            return false;
        }
        text.clear();
        text.push_str(operation);
        patterns.clear();
        for &position in positions.iter().take(MAX_SUMMARY_KEYS) {
            if text.len() >= MAX_SUMMARY_LEN {
                break;
            }
            text.push(' ');
            let start = text.len();
            key.clear();
            KeyPolicy::Pattern.render_into(args[position], self.max_key_length, key);
            text.push_str(&key.to_str());
            let new = &text[start..];
            if patterns.iter().any(|&(s, e)| text[s..e] == *new) {
                text.truncate(start - 1);
            } else {
                patterns.push((start, text.len()));
            }
        }
        let kept = truncate_on_char_boundary(text, MAX_SUMMARY_LEN).len();
        text.truncate(kept);
        true
    }

    /// A command's summary, within the budget (else its operation, counted). `known`: the
    /// command's table entry when the caller has it.
    pub(crate) fn command(
        &self,
        operation: &str,
        known: Option<&'static Command>,
        args: &[&[u8]],
    ) -> Option<Summary> {
        with_scratch(|scratch| {
            if !self.render(operation, known, args, scratch) {
                return None;
            }
            let (text, overflowed) = self.budget.admit(&scratch.text, operation, self.limit);
            Some(Summary { text, overflowed })
        })
    }

    /// A pipeline's or transaction's summary, by the conventions' batch rule: `BATCH {summary}`
    /// when every command (`(operation, table entry, args)`) has the same one, else `kind`
    /// (`PIPELINE`, `MULTI`). Only the batch's own summary takes a place in the budget.
    pub(crate) fn batch<'a>(
        &self,
        kind: &str,
        commands: impl IntoIterator<Item = (&'a str, Option<&'static Command>, &'a [&'a [u8]])>,
    ) -> Summary {
        const BATCH: &str = "BATCH ";
        let shared = with_scratch(|scratch| {
            let mut shared: Option<String> = None;
            for (operation, known, args) in commands {
                if !self.render(operation, known, args, scratch) {
                    return None;
                }
                match &shared {
                    None => shared = Some(format!("{BATCH}{}", scratch.text)),
                    Some(first) if first[BATCH.len()..] == scratch.text => {}
                    Some(_) => return None,
                }
            }
            shared
        });
        match shared {
            Some(batch) => {
                let batch = truncate_on_char_boundary(&batch, MAX_SUMMARY_LEN);
                let (text, overflowed) = self.budget.admit(batch, kind, self.limit);
                Summary { text, overflowed }
            }
            None => Summary {
                text: intern::share(kind),
                overflowed: false,
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
        let rules_of = rules(&budget, &KeyPolicy::Pattern);
        let summary = rules_of.command("MGET", None, &long).unwrap();
        assert!(summary.text.as_str().len() <= MAX_SUMMARY_LEN);

        let budget = SummaryBudget::default();
        let rules = rules(&budget, &KeyPolicy::Pattern);
        let text = |args: &[&[u8]]| rules.command("X", None, args).map(|s| s.text.to_string());
        assert_eq!(text(&[b"GET", b"user:42"]).unwrap(), "X user:?");
        assert_eq!(text(&[b"MGET", b"a:1", b"b:2"]).unwrap(), "X a:? b:?");
        assert_eq!(
            text(&[b"MGET", b"a:1", b"a:2", b"b:3"]).unwrap(),
            "X a:? b:?",
            "each once"
        );
        assert_eq!(text(&[b"PING"]), None, "no keys, no summary");
        // The budget (2) is full: a third shape falls back, counted; kept ones still pass.
        let first = rules.command("X", None, &[b"GET", b"order:7"]).unwrap();
        assert_eq!((first.text.as_str(), first.overflowed), ("X", true));
        assert_eq!(text(&[b"GET", b"user:43"]).unwrap(), "X user:?");
        assert_eq!(budget.overflows(), 1);
        // The report is claimed once.
        assert!(budget.claim_report());
        assert!(!budget.claim_report());
    }

    #[test]
    fn hidden_key_shapes_give_no_summary() {
        let budget = SummaryBudget::default();
        for policy in [KeyPolicy::Omit, KeyPolicy::hash_with_secret("s")] {
            assert!(rules(&budget, &policy)
                .command("GET", None, &[b"GET", b"user:1"])
                .is_none());
        }
    }

    #[test]
    fn batches_follow_the_conventions_rule_and_take_one_place() {
        let budget = SummaryBudget::default();
        let rules = rules(&budget, &KeyPolicy::Pattern);
        let one: &[&[u8]] = &[b"GET", b"user:1"];
        let two: &[&[u8]] = &[b"GET", b"user:2"];
        let order: &[&[u8]] = &[b"GET", b"order:2"];
        let same = rules.batch("PIPELINE", [("GET", None, one), ("GET", None, two)]);
        assert_eq!(same.text.as_str(), "BATCH GET user:?");
        let mixed = rules.batch("MULTI", [("GET", None, one), ("GET", None, order)]);
        assert_eq!((mixed.text.as_str(), mixed.overflowed), ("MULTI", false));
        // Only `BATCH GET user:?` took a place: one is left.
        assert!(!rules.command("GET", None, order).unwrap().overflowed);
        assert!(
            rules
                .command("GET", None, &[b"GET", b"cart:1"])
                .unwrap()
                .overflowed
        );
    }
}
