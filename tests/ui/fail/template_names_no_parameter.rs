use redis_trace::redis_traced;

#[redis_traced(op = "GET", key = "user:{user_id}:profile")]
fn profile(id: u64) -> Option<String> {
    Some(id.to_string())
}

fn main() {}
