#[redis_traced(op = "hgetall", key = id, endpoint = self.client)]
fn profile(&mut self, id: u64) -> redis::RedisResult<HashMap<String, String>> {
    self.conn.hgetall(format!("profile:{id}"))
}
