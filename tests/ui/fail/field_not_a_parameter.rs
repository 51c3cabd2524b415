use redis_trace::redis_traced;

#[redis_traced(op = "SET", key = id, fields(app.tier = tier))]
fn set(id: &str) -> Option<String> {
    Some(id.to_owned())
}

fn main() {}
