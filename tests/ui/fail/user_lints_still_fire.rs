#![deny(unused_variables)]

use redis_trace::redis_traced;

#[redis_traced(op = "GET")]
fn get(unused: &str) -> redis::RedisResult<Option<String>> {
    Ok(None)
}

fn main() {
    let _ = get("x");
}
