use redis_trace::redis_traced;

#[redis_traced(op = "GET", key = "user:{id:>5}")]
fn formatted(id: u64) -> Option<String> {
    Some(id.to_string())
}

#[redis_traced(op = "GET", key = "{user:{id}}:cart")]
fn unescaped_hash_tag(id: u64) -> Option<String> {
    Some(id.to_string())
}

fn main() {}
