use redis_trace::redis_traced;

#[redis_traced(op = "GET", key = id, key_policy = "hashed")]
fn get(id: &str) -> Option<String> {
    Some(id.to_owned())
}

fn main() {}
