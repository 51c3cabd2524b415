//! The span names of plain commands at a server, found again per thread by the server's
//! identity.
//!
//! A traced connection sends the same few commands to the same server again and again, and a
//! plain command's span name (`GET 10.0.0.1:6379`) follows from its operation and server alone.
//! Each thread keeps the last few in a small direct-mapped cache keyed by the operation's
//! address and the endpoint's identity: a repeat compares two pointers, where finding the name
//! by the server's text compares the address. (The creation attributes are built each time:
//! copying a kept list cost more than building it from static parts.) A command with a
//! summary, a stored procedure, a peer or messaging attributes is named as before.

use std::borrow::Cow;
use std::cell::RefCell;

use super::attributes::span_name;
use super::Target;
use crate::endpoint::Endpoint;

/// Entries of each thread's cache (a power of two).
const SLOTS: usize = 16;

/// A plain command's span name at a server.
struct Named {
    /// The operation's text (`'static`: the command table's or a kept batch name).
    operation: &'static str,
    /// Held, so that its address names it for as long as the entry lives.
    endpoint: Option<Endpoint>,
    name: &'static str,
}

impl Named {
    fn is_for(&self, operation: &'static str, endpoint: Option<&Endpoint>) -> bool {
        // Pointer and length: two table names may share a start (`GET`, `GETDEL`).
        std::ptr::eq(self.operation.as_ptr(), operation.as_ptr())
            && self.operation.len() == operation.len()
            && Endpoint::are_same(self.endpoint.as_ref(), endpoint)
    }
}

thread_local! {
    static NAMED: RefCell<[Option<Named>; SLOTS]> =
        const { RefCell::new([const { None }; SLOTS]) };
}

/// `target`'s span name: for a plain command, from this thread's cache when it named the same
/// command at the same server before.
pub(super) fn plain_span_name(target: &Target, endpoint: Option<&Endpoint>) -> Cow<'static, str> {
    let Some(operation) = plain_operation(target) else {
        return span_name(target, endpoint);
    };
    let slot = {
        let operation = operation.as_ptr() as usize;
        let server = endpoint.map_or(0, Endpoint::address_of);
        ((operation >> 3) ^ (server >> 4)) % SLOTS
    };
    let cached = NAMED.try_with(|named| {
        let named = named.try_borrow().ok()?;
        let entry = named[slot].as_ref()?;
        entry.is_for(operation, endpoint).then_some(entry.name)
    });
    if let Ok(Some(name)) = cached {
        return Cow::Borrowed(name);
    }
    let name = span_name(target, endpoint);
    // Only names shared for the life of the process are kept (past the kept names' bound, a
    // name is made per span and not cached here either).
    if let Cow::Borrowed(name) = name {
        let _ = NAMED.try_with(|named| {
            if let Ok(mut named) = named.try_borrow_mut() {
                named[slot] = Some(Named {
                    operation,
                    endpoint: endpoint.cloned(),
                    name,
                });
            }
        });
    }
    name
}

/// The operation of a command whose name and creation attributes follow from its operation,
/// server and mode alone.
fn plain_operation(target: &Target) -> Option<&'static str> {
    let Target::Command(spec) = target else {
        return None;
    };
    let Cow::Borrowed(operation) = spec.operation else {
        return None;
    };
    let plain = spec.summary.is_none()
        && spec.procedure.is_none()
        && spec.peer.is_none()
        && spec.messaging.is_none();
    plain.then_some(operation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::CommandSpec;

    fn get(endpoint: Option<Endpoint>) -> Target {
        let mut spec = CommandSpec::named("GET");
        spec.endpoint = endpoint;
        Target::Command(Box::new(spec))
    }

    /// A cached name is the name made afresh, for each server and operation.
    #[test]
    fn a_repeat_is_named_as_the_first() {
        let servers = [
            Some(Endpoint::tcp("10.0.0.1", 6379)),
            Some(Endpoint::tcp("10.0.0.1", 6380)),
            Some(Endpoint::unix("/run/redis.sock")),
            None,
        ];
        for operation in ["GET", "GETDEL", "PIPELINE GET"] {
            for endpoint in &servers {
                let mut spec = CommandSpec::named(operation);
                spec.endpoint = endpoint.clone();
                let target = Target::Command(Box::new(spec));
                let fresh = span_name(&target, endpoint.as_ref());
                for _ in 0..2 {
                    assert_eq!(plain_span_name(&target, endpoint.as_ref()), fresh);
                }
            }
        }
    }

    /// More servers than slots: each one meets another's entry in its slot, and is named with
    /// its own port.
    #[test]
    fn servers_sharing_a_slot_keep_their_own_names() {
        let servers: Vec<Endpoint> = (0..3 * SLOTS as u16)
            .map(|n| Endpoint::tcp("10.0.0.1", 7000 + n))
            .collect();
        for _ in 0..2 {
            for server in &servers {
                let name = plain_span_name(&get(Some(server.clone())), Some(server));
                assert_eq!(name, format!("GET 10.0.0.1:{}", server.port().unwrap()));
            }
        }
    }
}
