use redis_trace as tracing_for_redis;
use redis_trace::redis_traced;

/// Documented: the doc comment survives the attribute.
#[must_use]
#[redis_traced(op = "get", key = id, crate = tracing_for_redis)]
pub fn lowercase_op_is_normalized(id: u64) -> Option<u64> {
    id.checked_sub(1)
}

#[redis_traced(op = "JSON.GET", key = id, unchecked)]
fn module_command(id: &str) -> Option<String> {
    Some(id.to_owned())
}

#[redis_traced(op = "client setname")]
fn subcommand() -> redis::RedisResult<()> {
    Ok(())
}

#[redis_traced(op = "EVAL", keys = [a, b, c], endpoint = redis_trace::Endpoint::tcp("cache", 6379))]
fn script(a: &str, b: &str, c: &str) -> redis::RedisResult<()> {
    let _ = (a, b, c);
    Ok(())
}

fn main() {
    assert_eq!(lowercase_op_is_normalized(1), Some(0));
    assert_eq!(module_command("k").as_deref(), Some("k"));
    subcommand().unwrap();
    script("a", "b", "c").unwrap();
    with_every_extra("a", std::time::Duration::from_secs(1), "gold").unwrap();
    assert_eq!(omitted("x"), Some("x"));
}

fn digest(key: &[u8]) -> Option<String> {
    Some(format!("{} bytes", key.len()))
}

#[redis_traced(op = "SETEX", key = id, ttl = seconds, key_policy = digest, fields(app.tier = tier, app.retry = 1_u8))]
fn with_every_extra(id: &str, seconds: std::time::Duration, tier: &str) -> redis::RedisResult<()> {
    let _ = (id, seconds, tier);
    Ok(())
}

#[redis_traced(op = "GET", key = id, key_policy = "omit")]
fn omitted(id: &str) -> Option<&str> {
    Some(id)
}
