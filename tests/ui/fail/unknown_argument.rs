use redis_trace::redis_traced;

#[redis_traced(op = "GET", kye = id)]
fn get(id: &str) -> redis::RedisResult<Option<String>> {
    let _ = id;
    Ok(None)
}

fn main() {}
