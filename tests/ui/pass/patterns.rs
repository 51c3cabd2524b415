use redis_trace::redis_traced;

struct User {
    id: u64,
    name: String,
}

#[redis_traced(op = "SET", key = id)]
fn save(User { id, name }: User, mut attempts: u8, _: bool) -> Result<String, String> {
    attempts += 1;
    Ok(format!("{id}:{name}:{attempts}"))
}

#[redis_traced(op = "GET", key = pair.0)]
async fn get((pair, _unused): ((u64, u64), u8)) -> Option<u64> {
    Some(pair.1)
}

#[redis_traced(op = "GET", key = user.id, name = "user by id")]
fn by_field(user: &User) -> Option<&str> {
    Some(&user.name)
}

fn main() {
    let user = User { id: 1, name: "ada".into() };
    assert_eq!(by_field(&user), Some("ada"));
    assert_eq!(save(user, 0, true).unwrap(), "1:ada:1");
    let _ = get(((1, 2), 3));
}
