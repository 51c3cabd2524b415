//! Commands newer than Redis 7.0 validate: hash-field expiry (7.4), HGETEX/HSETEX (8.0),
//! Valkey 8.1's COMMANDLOG.

use redis_trace::redis_traced;

#[redis_traced(op = "HGETEX", key = "session:{id}")]
fn session_token(id: u64) -> redis::RedisResult<Option<String>> {
    let _ = id;
    Ok(None)
}

#[redis_traced(op = "HEXPIRE", key = "user:{id}", name = "expire email")]
fn expire_email(id: u64) -> redis::RedisResult<Vec<i64>> {
    let _ = id;
    Ok(vec![1])
}

#[redis_traced(op = "waitaof")]
fn wait_for_fsync() -> redis::RedisResult<(i64, i64)> {
    Ok((1, 1))
}

#[redis_traced(op = "COMMANDLOG GET")]
fn slow_commands() -> redis::RedisResult<Vec<redis::Value>> {
    Ok(Vec::new())
}

fn main() {
    let _ = session_token(1);
    let _ = expire_email(1);
    let _ = wait_for_fsync();
    let _ = slow_commands();
}
