//! Span names of the form `{operation} {address}:{port}` (`GET 127.0.0.1:6379`), made once;
//! also `{operation} {destination}` and `{operation} {procedure}` (no port).
//!
//! The SDK takes a span's name as `Cow<'static, str>`: any name that is not `'static` is an
//! allocation per span, freed later by the span processor's thread (a cross-thread free). A
//! service names its spans after a few dozen commands and a few servers, so each name is made
//! once, kept for the life of the process and shared: per thread in a small direct-mapped
//! cache (a hit compares a pointer, a port and the address), behind it one process-wide table
//! that no two threads fill twice. The table stops growing at [`MAX_KEPT`] names (about
//! 200 KiB at most); names past it are allocated per span, as before.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Mutex;

/// Names kept for the life of the process, at most.
const MAX_KEPT: usize = 4096;
/// Entries of each thread's cache (a power of two).
const SLOTS: usize = 64;

/// A kept name and what it names.
#[derive(Clone, Copy)]
struct Kept {
    /// The operation's text (a `'static` string of the command table), by address.
    operation: usize,
    port: Option<u16>,
    address_len: usize,
    name: &'static str,
}

impl Kept {
    fn names(&self, operation: &'static str, address: &str, port: Option<u16>) -> bool {
        self.operation == operation.as_ptr() as usize
            && self.port == port
            && self.address_len == address.len()
            && self
                .name
                .get(operation.len() + 1..)
                .is_some_and(|rest| rest.as_bytes().starts_with(address.as_bytes()))
    }
}

thread_local! {
    // Cells, not a `RefCell` of the array: a hit reads one slot, with no borrow flag to set.
    static RECENT: [Cell<Option<Kept>>; SLOTS] = const { [const { Cell::new(None) }; SLOTS] };
}

type Table = HashMap<(&'static str, String, Option<u16>), &'static str>;

static KEPT: Mutex<Option<Table>> = Mutex::new(None);

/// `{operation} {address}:{port}` (`{operation} {address}` without a port).
pub(crate) fn server_span_name(
    operation: &'static str,
    address: &str,
    port: Option<u16>,
) -> Cow<'static, str> {
    let slot = {
        let pointer = operation.as_ptr() as usize;
        (pointer ^ (pointer >> 7) ^ usize::from(port.unwrap_or(0))) % SLOTS
    };
    let cached = RECENT.try_with(|recent| {
        recent[slot]
            .get()
            .filter(|kept| kept.names(operation, address, port))
    });
    if let Ok(Some(kept)) = cached {
        return Cow::Borrowed(kept.name);
    }
    let Some(name) = kept_name(operation, address, port) else {
        return Cow::Owned(render(operation, address, port));
    };
    let kept = Kept {
        operation: operation.as_ptr() as usize,
        port,
        address_len: address.len(),
        name,
    };
    let _ = RECENT.try_with(|recent| recent[slot].set(Some(kept)));
    Cow::Borrowed(name)
}

/// `{operation} {text}` (`process orders`), kept like the server names; the operation alone
/// when `text` is empty.
pub(crate) fn operation_span_name(operation: &'static str, text: &str) -> Cow<'static, str> {
    if text.is_empty() {
        return Cow::Borrowed(operation);
    }
    server_span_name(operation, text, None)
}

/// The process-wide name, made now when absent and the table has room.
fn kept_name(operation: &'static str, address: &str, port: Option<u16>) -> Option<&'static str> {
    let mut table = KEPT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let table = table.get_or_insert_with(HashMap::new);
    let key = (operation, address.to_owned(), port);
    if let Some(&name) = table.get(&key) {
        return Some(name);
    }
    if table.len() >= MAX_KEPT {
        return None;
    }
    let name: &'static str = Box::leak(render(operation, address, port).into_boxed_str());
    table.insert(key, name);
    Some(name)
}

pub(crate) fn render(operation: &str, address: &str, port: Option<u16>) -> String {
    let mut name = String::with_capacity(operation.len() + address.len() + 7);
    name.push_str(operation);
    name.push(' ');
    name.push_str(address);
    if let Some(port) = port {
        name.push(':');
        crate::text::push_decimal(&mut name, port);
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_once_and_tell_servers_apart() {
        let first = server_span_name("GET", "10.0.0.1", Some(6379));
        assert_eq!(first, "GET 10.0.0.1:6379");
        let again = server_span_name("GET", "10.0.0.1", Some(6379));
        assert!(matches!(again, Cow::Borrowed(_)));
        assert_eq!(first.as_ptr(), again.as_ptr());
        // Another thread finds the process-wide name.
        let elsewhere = std::thread::spawn(|| server_span_name("GET", "10.0.0.1", Some(6379)))
            .join()
            .unwrap();
        assert_eq!(first.as_ptr(), elsewhere.as_ptr());
        assert_eq!(
            server_span_name("GET", "10.0.0.2", Some(6379)),
            "GET 10.0.0.2:6379"
        );
        assert_eq!(
            server_span_name("GET", "10.0.0.10", Some(6379)),
            "GET 10.0.0.10:6379"
        );
        assert_eq!(
            server_span_name("GET", "10.0.0.1", Some(6380)),
            "GET 10.0.0.1:6380"
        );
        assert_eq!(server_span_name("GET", "10.0.0.1", None), "GET 10.0.0.1");
        assert_eq!(
            server_span_name("SET", "10.0.0.1", Some(6379)),
            "SET 10.0.0.1:6379"
        );
    }
}
