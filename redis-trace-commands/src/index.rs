//! The table's names, hashed for [`crate::lookup_args`]: it runs for every command a traced
//! connection sends, so it hashes the name as it reads it (case folded on the way, no copy)
//! and compares once, in a table made for these few hundred fixed names. A general-purpose map
//! needs an upper-cased copy of the name to hash and costs several times as much per lookup.

use std::sync::OnceLock;

use crate::COMMANDS;

/// Slots of the open-addressed table: a power of two, under a third full.
const SLOT_BITS: u32 = 11;

/// What the index knows of a name.
struct Entry {
    /// Upper case, as in the table (`CLIENT SETNAME`, or a container's `CLIENT`).
    name: &'static [u8],
    /// Its position in [`COMMANDS`], when it is a command (containers may not be).
    command: Option<usize>,
    /// Whether `NAME SUB` entries exist.
    has_subcommands: bool,
}

struct Index {
    entries: Vec<Entry>,
    /// `entries` positions plus one; 0 for an empty slot.
    slots: Vec<u16>,
}

/// FNV-1a over the upper-cased bytes, step by step, so that a subcommand's hash continues the
/// command's.
#[derive(Clone, Copy)]
struct NameHash(u32);

impl NameHash {
    const START: Self = Self(0x811c_9dc5);

    fn bytes(mut self, bytes: &[u8]) -> Self {
        for &byte in bytes {
            self = self.byte(byte);
        }
        self
    }

    fn byte(self, byte: u8) -> Self {
        Self((self.0 ^ u32::from(byte.to_ascii_uppercase())).wrapping_mul(0x0100_0193))
    }

    /// The first slot to probe (Fibonacci hashing spreads FNV's weak low bits).
    fn slot(self) -> usize {
        (self.0.wrapping_mul(0x9e37_79b9) >> (32 - SLOT_BITS)) as usize
    }
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index = Index {
            entries: Vec::new(),
            slots: vec![0; 1 << SLOT_BITS],
        };
        for (position, command) in COMMANDS.iter().enumerate() {
            index.entry(command.name.as_bytes()).command = Some(position);
            if let Some((container, _)) = command.name.split_once(' ') {
                index.entry(container.as_bytes()).has_subcommands = true;
            }
        }
        index
    })
}

impl Index {
    /// The entry of `name` (upper case), added when absent.
    fn entry(&mut self, name: &'static [u8]) -> &mut Entry {
        let hash = NameHash::START.bytes(name);
        let found = self.find(hash, |entry| entry.name == name);
        let position = found.unwrap_or_else(|| {
            let mut slot = hash.slot();
            while self.slots[slot] != 0 {
                slot = (slot + 1) % self.slots.len();
            }
            self.entries.push(Entry {
                name,
                command: None,
                has_subcommands: false,
            });
            self.slots[slot] = u16::try_from(self.entries.len()).expect("a few hundred names");
            self.entries.len() - 1
        });
        &mut self.entries[position]
    }

    /// The position in `entries` of the first entry with `hash` that `matches`.
    fn find(&self, hash: NameHash, matches: impl Fn(&Entry) -> bool) -> Option<usize> {
        let mut slot = hash.slot();
        loop {
            let position = usize::from(self.slots[slot]).checked_sub(1)?;
            if matches(&self.entries[position]) {
                return Some(position);
            }
            slot = (slot + 1) % self.slots.len();
        }
    }
}

/// The position in [`COMMANDS`] of the command named `name` (`CLIENT SETNAME` for a
/// subcommand), in any case (see [`crate::lookup`]).
pub(crate) fn lookup_name(name: &[u8]) -> Option<usize> {
    let index = index();
    let hash = NameHash::START.bytes(name);
    let found = index.find(hash, |entry| entry.name.eq_ignore_ascii_case(name))?;
    index.entries[found].command
}

/// The position in [`COMMANDS`] of the command `args` invoke (see [`crate::lookup_args`]).
pub(crate) fn lookup_args<A: AsRef<[u8]>>(args: &[A]) -> Option<usize> {
    lookup_args_named(args).0
}

/// [`lookup_args`], and whether the name alone decided it: `false` for a container's name
/// (`CLIENT`), whose next argument may name a subcommand.
pub(crate) fn lookup_args_named<A: AsRef<[u8]>>(args: &[A]) -> (Option<usize>, bool) {
    let index = index();
    let Some(name) = args.first().map(AsRef::as_ref) else {
        return (None, false);
    };
    let hash = NameHash::START.bytes(name);
    let Some(found) = index.find(hash, |entry| entry.name.eq_ignore_ascii_case(name)) else {
        return (None, true);
    };
    let entry = &index.entries[found];
    (
        lookup_subcommand(index, entry, hash, args),
        !entry.has_subcommands,
    )
}

/// The command of `entry` (the name `args` begin with, hashed as `hash`), or of its
/// subcommand when `args` name one.
fn lookup_subcommand<A: AsRef<[u8]>>(
    index: &Index,
    entry: &Entry,
    hash: NameHash,
    args: &[A],
) -> Option<usize> {
    let name = entry.name;
    if entry.has_subcommands {
        if let Some(sub) = args.get(1).map(AsRef::as_ref) {
            let full = hash.byte(b' ').bytes(sub);
            let is_full = |candidate: &Entry| {
                let (head, rest) = candidate
                    .name
                    .split_at(name.len().min(candidate.name.len()));
                head.eq_ignore_ascii_case(name)
                    && rest.first() == Some(&b' ')
                    && rest[1..].eq_ignore_ascii_case(sub)
            };
            if let Some(command) = index
                .find(full, is_full)
                .and_then(|p| index.entries[p].command)
            {
                return Some(command);
            }
        }
    }
    entry.command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_and_container_is_found_in_any_case() {
        for (position, command) in COMMANDS.iter().enumerate() {
            let args: Vec<String> = command.name.split(' ').map(str::to_owned).collect();
            assert_eq!(lookup_args(&args), Some(position), "{}", command.name);
            let lower: Vec<String> = args.iter().map(|arg| arg.to_ascii_lowercase()).collect();
            assert_eq!(lookup_args(&lower), Some(position), "{}", command.name);
        }
        let position = |name: &str| COMMANDS.iter().position(|c| c.name == name);
        // A container with an unknown subcommand is the container; a plain command's first
        // argument is never read as a subcommand.
        assert_eq!(lookup_args(&["client", "nosuch"]), position("CLIENT"));
        assert_eq!(lookup_args(&["GET", "SETNAME"]), position("GET"));
        assert_eq!(lookup_args(&["GETX"]), None);
        assert_eq!(lookup_args::<&str>(&[]), None);
        assert_eq!(lookup_args(&["CLIENTSETNAME"]), None);
        // A container's name followed by a longer word is not the subcommand.
        assert_eq!(lookup_args(&["CLIENT", "SETNAMEX"]), position("CLIENT"));
        assert!(index().entries.len() * 3 < index().slots.len());
    }

    #[test]
    fn names_are_found_as_the_sorted_table_finds_them() {
        let search = |name: &str| {
            COMMANDS
                .binary_search_by(|command| {
                    crate::cmp_ignore_ascii_case(command.name.as_bytes(), name.as_bytes())
                })
                .ok()
        };
        let mut names: Vec<String> = COMMANDS.iter().map(|c| c.name.to_owned()).collect();
        names.extend(COMMANDS.iter().map(|c| c.name.to_ascii_lowercase()));
        names.extend(
            ["CLIENT", "GTE", "", "GET ", " GET", "CLIENT  SETNAME", "X"].map(String::from),
        );
        for name in names {
            assert_eq!(lookup_name(name.as_bytes()), search(&name), "{name:?}");
        }
    }
}
