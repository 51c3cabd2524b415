use redis_trace::redis_traced;

#[redis_traced(op = "FROBNICATE")]
fn frobnicate() -> redis::RedisResult<()> {
    Ok(())
}

fn main() {}
