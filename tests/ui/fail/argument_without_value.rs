use redis_trace::redis_traced;

#[redis_traced(op = "GET", key)]
fn get(key: &str) -> redis::RedisResult<Option<String>> {
    let _ = key;
    Ok(None)
}

fn main() {}
