use redis_trace::redis_traced;

struct Repo {
    prefix: String,
}

impl Repo {
    #[redis_traced(op = "GET", key = format_key(&self.prefix, idd))]
    fn get(&self, id: &str) -> redis::RedisResult<Option<String>> {
        let _ = id;
        Ok(None)
    }
}

fn format_key(prefix: &str, id: &str) -> String {
    format!("{prefix}:{id}")
}

fn main() {}
