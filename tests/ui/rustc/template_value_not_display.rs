use redis_trace::redis_traced;

struct UserId(u64);

#[redis_traced(op = "GET", key = "user:{id}")]
fn get(id: UserId) -> Option<u64> {
    Some(id.0)
}

fn main() {}
