#[redis_traced(op = "GET", key = id, name = "get user")]
async fn get_user(&self, id: &str) -> redis::RedisResult<Option<String>> {
    self.conn.clone().get(format!("user:{id}")).await
}
