#[redis_traced(op = "GET", key = "user:{id}")]
async fn get_user(&self, id: u64) -> redis::RedisResult<Option<String>> {
    self.conn.clone().get(format!("user:{id}")).await
}
