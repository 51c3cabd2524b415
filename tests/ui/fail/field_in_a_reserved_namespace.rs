use redis_trace::redis_traced;

#[redis_traced(op = "GET", key = id, fields(db.system.name = id, app.tier = id, app.tier = id))]
fn get(id: &str) -> Option<String> {
    Some(id.to_owned())
}

fn main() {}
