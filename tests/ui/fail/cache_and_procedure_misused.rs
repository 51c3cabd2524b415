use redis_trace::redis_traced;

#[redis_traced(op = "EVALSHA", key = key, cache = "yes")]
fn lookup(key: &str) -> Option<String> {
    Some(key.to_owned())
}

#[redis_traced(op = "GET", key = key, procedure = "release")]
fn get(key: &str) -> Option<String> {
    Some(key.to_owned())
}

fn main() {}
