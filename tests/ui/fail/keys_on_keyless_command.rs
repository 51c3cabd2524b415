use redis_trace::redis_traced;

#[redis_traced(op = "INFO", keys = [section])]
fn info(section: &str) -> redis::RedisResult<String> {
    let _ = section;
    Ok(String::new())
}

fn main() {}
