use redis_trace::redis_traced;

#[redis_traced(op = GET)]
fn get() -> redis::RedisResult<Option<String>> {
    Ok(None)
}

fn main() {}
