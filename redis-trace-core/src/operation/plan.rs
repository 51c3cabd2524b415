//! What a plain command records, prepared once: its span name and its metric attributes, kept
//! per thread and found again by the command's and servers' identity.
//!
//! A traced connection sends the same few commands to the same server again and again, and a
//! plain command's span name (`GET 10.0.0.1:6379`) and duration attributes follow from its
//! operation, summary, server and node and the settings alone. Each thread keeps up to 64
//! plans in a small cache of 16 sets of 4 (a direct-mapped cache of the same size made a
//! service's few commands at its servers evict each other, and each miss builds the plan again
//! and finds its lookup tally under the instruments' lock): a repeat compares a few pointers
//! (and the summary's text), once when the command starts; the command carries its plan to its
//! end, where the metrics are recorded with the prepared list. (The span's creation attributes
//! are built each time: copying a kept list cost more than building it from static parts.) A
//! command with a stored procedure or messaging attributes has no plan.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::Arc;

use opentelemetry::StringValue;

use super::attributes::{creation_attributes, span_name};
use super::Target;
use crate::command::{CommandSpec, Plan};
use crate::endpoint::Endpoint;
use crate::globals::Snapshot;
use crate::metrics::PlainRecording;

/// Sets of each thread's cache (a power of two), and plans per set.
const SETS: usize = 16;
const WAYS: usize = 4;

/// What a plan is found by.
struct Kept {
    key: Identity,
    summary: Option<StringValue>,
    /// Held, so that their addresses (in `key`) name them for as long as the entry lives.
    _servers: (Option<Endpoint>, Option<Endpoint>),
    plan: Arc<Plan>,
}

/// A command at a server and node under one generation of the settings, by address: the
/// operation's text (`'static`: the command table's or a kept batch name; with its length, as
/// two table names may share a start, `GET` and `GETDEL`) and the endpoints' identity.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Identity {
    generation: u64,
    operation: (usize, usize),
    endpoint: usize,
    peer: usize,
}

impl Identity {
    fn of(spec: &CommandSpec, operation: &'static str, now: &Snapshot) -> Self {
        let address = |endpoint: Option<&Endpoint>| endpoint.map_or(0, Endpoint::address_of);
        Self {
            generation: now.generation(),
            operation: (operation.as_ptr() as usize, operation.len()),
            endpoint: address(spec.endpoint.as_ref()),
            peer: address(spec.peer.as_ref()),
        }
    }

    fn set(&self) -> usize {
        let mixed = (self.operation.0 ^ self.endpoint.rotate_left(21) ^ self.peer.rotate_left(42))
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        mixed >> (usize::BITS - SETS.trailing_zeros())
    }
}

thread_local! {
    static KEPT: RefCell<[[Option<Kept>; WAYS]; SETS]> =
        const { RefCell::new([const { [const { None }; WAYS] }; SETS]) };
}

/// Gives `target` its plan under `now`, when it is a plain command (none otherwise).
pub(super) fn prepare(target: &mut Target, now: &Snapshot) {
    let plan = find(target, now);
    if let Target::Command(spec) = target {
        spec.plan = plan;
    }
}

/// The plan of `target` under `now`, when it is a plain command: this thread's, when it made
/// one for the same command at the same server and node before. `None` for anything else, and
/// when the cache is out of reach (re-entered, or during thread exit).
fn find(target: &Target, now: &Snapshot) -> Option<Arc<Plan>> {
    let Target::Command(spec) = target else {
        return None;
    };
    let Cow::Borrowed(operation) = spec.operation else {
        return None;
    };
    if spec.procedure.is_some() || spec.messaging.is_some() {
        return None;
    }
    let key = Identity::of(spec, operation, now);
    let summary = spec.summary.as_ref().map(StringValue::as_str);
    let set = key.set();
    KEPT.try_with(|kept| {
        let mut kept = kept.try_borrow_mut().ok()?;
        let ways = &mut kept[set];
        let found = ways.iter().flatten().find(|entry| {
            entry.key == key && entry.summary.as_ref().map(StringValue::as_str) == summary
        });
        if let Some(entry) = found {
            return Some(Arc::clone(&entry.plan));
        }
        // The newest first; the oldest of a full set leaves.
        let plan = Arc::new(make(target, now));
        ways.rotate_right(1);
        ways[0] = Some(Kept {
            key,
            summary: spec.summary.clone(),
            _servers: (spec.endpoint.clone(), spec.peer.clone()),
            plan: Arc::clone(&plan),
        });
        Some(plan)
    })
    .ok()
    .flatten()
}

fn make(target: &Target, now: &Snapshot) -> Plan {
    let config = &now.settings.config;
    let endpoint = target.endpoint();
    let recording = config.records_metrics().then(|| {
        let mut attributes = Vec::new();
        creation_attributes(target, config.semconv(), endpoint, &mut attributes);
        PlainRecording::new(&now.metrics, attributes)
    });
    Plan::new(span_name(target, endpoint), recording.flatten())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::globals;

    fn command(operation: &'static str, endpoint: Option<Endpoint>) -> Target {
        let mut spec = CommandSpec::named(operation);
        spec.endpoint = endpoint;
        Target::Command(Box::new(spec))
    }

    /// A kept plan's name is the name made afresh, for each server and operation, and a repeat
    /// is the same plan.
    #[test]
    fn a_repeat_is_the_first_plan() {
        let now = globals::snapshot();
        let servers = [
            Some(Endpoint::tcp("10.0.0.1", 6379)),
            Some(Endpoint::tcp("10.0.0.1", 6380)),
            Some(Endpoint::unix("/run/redis.sock")),
            None,
        ];
        for operation in ["GET", "GETDEL", "PIPELINE GET"] {
            for endpoint in &servers {
                let target = command(operation, endpoint.clone());
                let fresh = span_name(&target, endpoint.as_ref());
                let first = find(&target, &now).expect("a plain command has a plan");
                assert_eq!(first.name(), fresh);
                let again = find(&target, &now).expect("a plan");
                assert!(Arc::ptr_eq(&first, &again), "a repeat finds the kept plan");
            }
        }
    }

    /// More servers than the cache holds: each one meets others' entries in its set, and is
    /// named with its own port.
    #[test]
    fn servers_sharing_a_set_keep_their_own_names() {
        let now = globals::snapshot();
        let servers: Vec<Endpoint> = (0..(3 * SETS * WAYS) as u16)
            .map(|n| Endpoint::tcp("10.0.0.1", 7000 + n))
            .collect();
        for _ in 0..2 {
            for server in &servers {
                let plan = find(&command("GET", Some(server.clone())), &now).expect("a plan");
                let port = server.port().unwrap();
                assert_eq!(plan.name(), format!("GET 10.0.0.1:{port}"));
            }
        }
    }

    /// Up to four plans of one set are all kept (commands that share a set do not evict each
    /// other); a fifth evicts the oldest.
    #[test]
    fn a_set_keeps_four_plans() {
        let now = globals::snapshot();
        let servers: Vec<Endpoint> = (0..400).map(|n| Endpoint::tcp("10.0.0.9", n)).collect();
        let set_of = |server: &Endpoint| {
            let Target::Command(spec) = command("GET", Some(server.clone())) else {
                unreachable!()
            };
            Identity::of(&spec, "GET", &now).set()
        };
        let wanted = set_of(&servers[0]);
        let sharing: Vec<&Endpoint> = servers.iter().filter(|s| set_of(s) == wanted).collect();
        assert!(sharing.len() > WAYS, "400 servers over {SETS} sets");
        let plan = |server: &Endpoint| find(&command("GET", Some(server.clone())), &now).unwrap();
        let first: Vec<_> = sharing[..WAYS].iter().map(|s| plan(s)).collect();
        for (server, kept) in sharing[..WAYS].iter().zip(&first) {
            assert!(Arc::ptr_eq(&plan(server), kept), "all four are kept");
        }
        plan(sharing[WAYS]);
        assert!(
            !Arc::ptr_eq(&plan(sharing[0]), &first[0]),
            "the oldest left"
        );
    }

    /// What tells two plans apart: the node, the summary, the settings' generation; a stored
    /// procedure has none.
    #[test]
    fn a_plan_is_for_one_node_summary_and_generation() {
        let now = globals::snapshot();
        let server = Endpoint::tcp("10.0.0.1", 6379);
        let plain = command("GET", Some(server.clone()));
        let first = find(&plain, &now).expect("a plan");

        let mut spec = CommandSpec::named("GET");
        spec.endpoint = Some(server.clone());
        spec.peer = Some(Endpoint::tcp("10.0.0.2", 7001));
        let on_node = find(&Target::Command(Box::new(spec.clone())), &now).expect("a plan");
        assert!(!Arc::ptr_eq(&first, &on_node), "another node, another plan");

        spec.peer = None;
        spec.summary = Some("GET user:{id}".into());
        let summarized = find(&Target::Command(Box::new(spec.clone())), &now).expect("a plan");
        assert!(
            !Arc::ptr_eq(&first, &summarized),
            "another summary, another plan"
        );
        assert_eq!(summarized.name(), "GET user:{id}");

        let newer = Snapshot::for_generation(&now, now.generation() + 1);
        let renewed = find(&plain, &newer).expect("a plan");
        assert!(!Arc::ptr_eq(&first, &renewed), "new settings, a new plan");

        spec.summary = None;
        spec.procedure = Some("release".into());
        assert!(find(&Target::Command(Box::new(spec)), &now).is_none());
    }
}
