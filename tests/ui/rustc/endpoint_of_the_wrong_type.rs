use redis_trace::redis_traced;

#[redis_traced(op = "GET", endpoint = port)]
fn get(port: u16) -> redis::RedisResult<Option<String>> {
    let _ = port;
    Ok(None)
}

fn main() {}
