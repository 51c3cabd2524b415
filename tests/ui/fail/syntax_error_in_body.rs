use redis_trace::redis_traced;

#[redis_traced(op = "GET", key = key)]
fn get(conn: &mut redis::Connection, key: &str) -> redis::RedisResult<Option<String>> {
    let value = redis::Commands::get(conn, key)?
    Ok(value)
}

fn main() {}
