use redis_trace::redis_traced;

#[redis_traced(op = "RENAME", keys = [from, to, extra])]
fn rename(from: &str, to: &str, extra: &str) -> redis::RedisResult<()> {
    let _ = (from, to, extra);
    Ok(())
}

fn main() {}
