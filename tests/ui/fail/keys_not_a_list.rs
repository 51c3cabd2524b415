use redis_trace::redis_traced;

#[redis_traced(op = "MGET", keys = a)]
fn get(a: &str) -> redis::RedisResult<Vec<Option<String>>> {
    let _ = a;
    Ok(vec![])
}

fn main() {}
