use redis_trace::redis_traced;

#[redis_traced(op = "GET", keys = [a, b])]
fn get(a: &str, b: &str) -> redis::RedisResult<Option<String>> {
    let _ = (a, b);
    Ok(None)
}

fn main() {}
