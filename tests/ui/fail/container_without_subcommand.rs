use redis_trace::redis_traced;

#[redis_traced(op = "CLIENT")]
fn name_connection() -> redis::RedisResult<()> {
    Ok(())
}

fn main() {}
