use redis_trace::redis_traced;

#[redis_traced(op = "MGET", keys = [prefix])]
fn keys_of(prefix: &str, keys: impl IntoIterator<Item = String>) -> impl Iterator<Item = String> {
    let _ = prefix;
    keys.into_iter().map(|key| format!("user:{key}"))
}

#[redis_traced(op = "GET", key = key.as_ref())]
async fn get_as_ref(key: impl AsRef<str> + Send) -> impl std::fmt::Debug {
    key.as_ref().len()
}

fn main() {
    let keys: Vec<String> = keys_of("user", vec!["1".to_owned()]).collect();
    assert_eq!(keys, ["user:1"]);
    let _ = get_as_ref("k");
}
