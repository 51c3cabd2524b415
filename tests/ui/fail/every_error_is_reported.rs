use redis_trace::redis_traced;

#[redis_traced(op = "HGETAL", key = usr, nme = "load user")]
fn load(user: &str) -> redis::RedisResult<Option<String>> {
    let _ = user;
    Ok(None)
}

fn main() {
    // The original fn is still emitted: calling it type-checks.
    let _ = load("1");
}
