use redis_trace::redis_traced;

struct UserId(u64);

#[redis_traced(op = "GET", key = id)]
fn get(id: UserId) -> redis::RedisResult<Option<String>> {
    let _ = id.0;
    Ok(None)
}

fn main() {}
