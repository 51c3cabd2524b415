use redis_trace::redis_traced;

#[redis_traced(op = "GET", name = "")]
fn get() -> redis::RedisResult<Option<String>> {
    Ok(None)
}

fn main() {}
