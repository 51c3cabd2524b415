#![deny(unused_must_use)]

use redis_trace::redis_traced;

/// Documented and `#[must_use]`: both survive the attribute.
#[must_use]
#[redis_traced(op = "GET")]
fn get() -> Option<String> {
    None
}

fn main() {
    get();
}
