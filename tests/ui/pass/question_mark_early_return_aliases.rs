use redis_trace::redis_traced;

type Result<T> = std::result::Result<T, AppError>;
type Cached<T> = redis::RedisResult<Option<T>>;

#[derive(Debug)]
enum AppError {
    Redis(redis::RedisError),
    NotFound,
}

impl From<redis::RedisError> for AppError {
    fn from(error: redis::RedisError) -> Self {
        Self::Redis(error)
    }
}

#[redis_traced(op = "GET", key = key)]
async fn required(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> Result<String> {
    if key.is_empty() {
        return Err(AppError::NotFound);
    }
    let value: Option<String> = redis::AsyncCommands::get(conn, key).await?;
    value.ok_or(AppError::NotFound)
}

#[redis_traced(op = "GET", key = key)]
fn cached(conn: &mut redis::Connection, key: &str) -> Cached<u64> {
    let value = redis::Commands::get(conn, key)?;
    Ok(value)
}

#[redis_traced(op = "PING")]
fn ping(conn: &mut redis::Connection) -> anyhow_like::Result<()> {
    redis::cmd("PING").query::<String>(conn)?;
    Ok(())
}

mod anyhow_like {
    pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;
}

#[redis_traced(op = "PING")]
fn no_return_value(counter: &mut u32) {
    *counter += 1;
}

fn main() {
    let mut counter = 0;
    no_return_value(&mut counter);
    assert_eq!(counter, 1);
    let _ = (required, cached, ping, AppError::NotFound);
}
