use redis_trace::redis_traced;

#[redis_traced(op = "GET")]
async fn get() -> redis::RedisResult<Option<String>> {
    Ok(Some(42))
}

fn main() {}
