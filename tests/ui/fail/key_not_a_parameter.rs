use redis_trace::redis_traced;

#[redis_traced(op = "GET", key = user_id)]
fn get(id: &str, tenant: &str) -> redis::RedisResult<Option<String>> {
    let _ = (id, tenant);
    Ok(None)
}

fn main() {}
