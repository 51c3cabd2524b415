//! The macro's view of the shared Redis command table (`redis-trace-commands`).

pub use redis_trace_commands::{lookup, Command, KeyCount, COMMANDS};

/// The subcommands of a container command (`CLIENT` → `CLIENT SETNAME`, ...).
pub fn subcommands(container: &str) -> impl Iterator<Item = &'static str> + '_ {
    COMMANDS.iter().filter_map(move |command| {
        let (head, _) = command.name.split_once(' ')?;
        (head == container).then_some(command.name)
    })
}

/// The most keys one call can pass: `None` when unbounded.
pub fn max_keys(command: &Command) -> Option<usize> {
    match command.key_count() {
        KeyCount::None => Some(0),
        KeyCount::One => Some(1),
        KeyCount::Many if command.arity > 0 => {
            // Fixed arity: every argument but the name(s) could at most be a key.
            let names = 1 + command.name.matches(' ').count();
            Some(
                usize::try_from(command.arity)
                    .unwrap_or(0)
                    .saturating_sub(names),
            )
        }
        KeyCount::Many => None,
    }
}
