use redis_trace::redis_traced;

#[redis_traced(op = "MGET", key = a, keys = [a, b])]
fn get(a: &str, b: &str) -> redis::RedisResult<Vec<Option<String>>> {
    let _ = (a, b);
    Ok(vec![])
}

fn main() {}
