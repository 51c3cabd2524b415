use redis_trace::redis_traced;

#[redis_traced(op = "PING", key = id)]
fn ping(id: &str) -> redis::RedisResult<String> {
    let _ = id;
    Ok("PONG".into())
}

fn main() {}
