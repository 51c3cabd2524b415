#[redis_traced(op = "GTE", key = missing)]
fn get(id: &str) -> Option<String> {
    Some(id.to_owned())
}
