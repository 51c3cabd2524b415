//! The heap block of a command's description, kept by each thread for its next command: a
//! traced connection describes every command it sends, and an allocation and a free (the
//! block is a few hundred bytes) cost more than reusing the last one.

use std::cell::Cell;

use crate::command::CommandSpec;

thread_local! {
    static SPARE: Cell<Option<Box<CommandSpec>>> = const { Cell::new(None) };
}

/// `spec` in this thread's spare block, or in a new one.
pub(super) fn boxed(spec: CommandSpec) -> Box<CommandSpec> {
    match SPARE.try_with(Cell::take).ok().flatten() {
        Some(mut spare) => {
            *spare = spec;
            spare
        }
        None => Box::new(spec),
    }
}

/// Keeps the block of an ended command for this thread's next one. What it holds is released
/// when the block is reused (or the thread exits), but for a pipeline's per-command list,
/// released now: it may be large.
pub(super) fn keep(mut spec: Box<CommandSpec>) {
    if spec.commands.capacity() > 0 {
        spec.commands = Vec::new();
    }
    let _ = SPARE.try_with(|spare| spare.set(Some(spec)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_reuses_its_last_block_without_its_pipeline_list() {
        let mut first = boxed(CommandSpec::named("GET"));
        first.commands = vec![("GET".into(), "GET k".into()); 100];
        let block: *const CommandSpec = &*first;
        keep(first);
        let kept = SPARE.with(Cell::take).expect("kept");
        assert_eq!(kept.commands.capacity(), 0, "a pipeline's list is released");
        SPARE.with(|spare| spare.set(Some(kept)));
        let second = boxed(CommandSpec::named("SET"));
        assert!(std::ptr::eq(&*second, block), "the kept block is reused");
        assert_eq!(second.operation, "SET");
        // Taken: the next one is a new block.
        let third = boxed(CommandSpec::named("DEL"));
        assert!(!std::ptr::eq(&*third, block));
    }
}
