#![deny(warnings)]
#![forbid(unsafe_code)]

use redis_trace::redis_traced;

/// Traced with every argument.
///
/// # Errors
/// When Redis fails.
#[redis_traced(op = "GET", key = id, name = "get", endpoint = client)]
pub async fn get(client: &redis::Client, id: &str) -> redis::RedisResult<Option<String>> {
    let mut conn = client.get_multiplexed_async_connection().await?;
    redis::AsyncCommands::get(&mut conn, id).await
}

/// Sync, no return value.
#[redis_traced(op = "PING")]
pub fn ping() {}

fn main() {
    ping();
}
