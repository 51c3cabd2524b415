use redis_trace::redis_traced;

#[redis_traced(op = "GET", key = id, ttl = seconds)]
fn get(id: &str, seconds: u64) -> Option<String> {
    let _ = seconds;
    Some(id.to_owned())
}

fn main() {}
