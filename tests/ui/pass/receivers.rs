use std::sync::Arc;

use redis_trace::redis_traced;

struct Repo {
    conn: redis::aio::MultiplexedConnection,
    prefix: String,
}

impl Repo {
    #[redis_traced(op = "GET", key = &self.prefix)]
    async fn by_ref(&self) -> redis::RedisResult<Option<String>> {
        redis::AsyncCommands::get(&mut self.conn.clone(), &self.prefix).await
    }

    #[redis_traced(op = "SET", key = self.prefix)]
    async fn by_mut(&mut self, value: &str) -> redis::RedisResult<()> {
        redis::AsyncCommands::set(&mut self.conn, &self.prefix, value).await
    }

    #[redis_traced(op = "DEL", key = self.prefix)]
    async fn by_value(mut self) -> redis::RedisResult<usize> {
        redis::AsyncCommands::del(&mut self.conn, &self.prefix).await
    }

    #[redis_traced(op = "GET", key = self.prefix)]
    async fn by_arc(self: Arc<Self>) -> redis::RedisResult<Option<String>> {
        redis::AsyncCommands::get(&mut self.conn.clone(), &self.prefix).await
    }

    #[redis_traced(op = "EXISTS", key = self.prefix)]
    fn by_box(self: Box<Self>) -> bool {
        !self.prefix.is_empty()
    }
}

fn main() {}
