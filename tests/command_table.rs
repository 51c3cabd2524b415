//! The checked-in command table matches what the test harness's redis-server reports.
//!
//! Regenerate after a redis-server upgrade: `REDIS_TRACE_BLESS=1 cargo test --test command_table`.

use redis_trace_harness as support;

use support::command_table::{generate, TABLE_PATH};
use support::RedisServer;

#[test]
fn checked_in_command_table_is_current() {
    let server = RedisServer::start();
    let mut conn = server.client().get_connection().unwrap();
    let generated = generate(&mut conn);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(TABLE_PATH);
    if std::env::var_os("REDIS_TRACE_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{TABLE_PATH} is stale for this redis-server; regenerate it with \
         `REDIS_TRACE_BLESS=1 cargo test --test command_table` and review the diff"
    );
    assert!(
        generated.contains("name: \"GET\""),
        "the generator found no GET command"
    );
}
