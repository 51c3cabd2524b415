use redis_trace::redis_traced;

#[redis_traced(op = "MGET", keys = [])]
fn get() -> redis::RedisResult<Vec<Option<String>>> {
    Ok(vec![])
}

fn main() {}
