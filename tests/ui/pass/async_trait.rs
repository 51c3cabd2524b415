use async_trait::async_trait;
use redis_trace::redis_traced;

#[async_trait]
trait Cache {
    async fn get(&self, key: &str) -> redis::RedisResult<Option<String>>;
    async fn set(&mut self, key: &str, value: String) -> redis::RedisResult<()>;
}

struct Memory {
    entries: std::collections::HashMap<String, String>,
}

#[async_trait]
impl Cache for Memory {
    #[redis_traced(op = "GET", key = key, name = "cache get")]
    async fn get(&self, key: &str) -> redis::RedisResult<Option<String>> {
        if key.is_empty() {
            return Ok(None);
        }
        Ok(self.entries.get(key).cloned())
    }

    #[redis_traced(op = "SET", key = key)]
    async fn set(&mut self, key: &str, value: String) -> redis::RedisResult<()> {
        self.entries.insert(key.to_owned(), value);
        Ok(())
    }
}

fn main() {}
