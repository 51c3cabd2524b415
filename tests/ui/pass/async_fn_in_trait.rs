use redis_trace::redis_traced;

trait Cache {
    async fn get(&self, key: &str) -> redis::RedisResult<Option<String>>;
    fn get_sync(&self, key: &str) -> Option<String>;
}

struct Memory;

impl Cache for Memory {
    #[redis_traced(op = "GET", key = key)]
    async fn get(&self, key: &str) -> redis::RedisResult<Option<String>> {
        Ok(Some(key.to_owned()))
    }

    #[redis_traced(op = "GET", key = key)]
    fn get_sync(&self, key: &str) -> Option<String> {
        Some(key.to_owned())
    }
}

fn main() {
    assert_eq!(Memory.get_sync("k").as_deref(), Some("k"));
}
