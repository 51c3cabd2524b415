//! The heap block of a command's description, kept blank by each thread for its next command:
//! a traced connection describes every command it sends, and an allocation and a free (the
//! block is a few hundred bytes) cost more than reusing the last one.

use std::cell::Cell;

use crate::command::CommandSpec;

thread_local! {
    static SPARE: Cell<Option<Box<CommandSpec>>> = const { Cell::new(None) };
}

/// A blank description, in this thread's spare block or in a new one: it is described in
/// place (a description is a few hundred bytes, and moving one into its block is a copy).
pub(super) fn blank() -> Box<CommandSpec> {
    SPARE
        .try_with(Cell::take)
        .ok()
        .flatten()
        .unwrap_or_else(|| Box::new(CommandSpec::blank()))
}

/// Keeps the block of an ended command for this thread's next one, blank: what it held is
/// released now.
pub(super) fn keep(mut spec: Box<CommandSpec>) {
    *spec = CommandSpec::blank();
    let _ = SPARE.try_with(|spare| spare.set(Some(spec)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_reuses_its_last_block_blank() {
        let mut first = blank();
        first.operation = "GET".into();
        first.commands = vec![("GET".into(), "GET k".into()); 100];
        first.endpoint = Some(crate::endpoint::Endpoint::tcp("10.0.0.1", 6379));
        let block: *const CommandSpec = &*first;
        keep(first);
        let second = blank();
        assert!(std::ptr::eq(&*second, block), "the kept block is reused");
        assert_eq!(second.operation, "");
        assert_eq!(second.commands.capacity(), 0, "what it held is released");
        assert!(second.endpoint.is_none());
        // Taken: the next one is a new block.
        let third = blank();
        assert!(!std::ptr::eq(&*third, block));
    }
}
