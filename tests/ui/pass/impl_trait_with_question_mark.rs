//! `Result<impl Trait, E>` with `?` in the body: the fake return edge erases `impl Trait` to `_`
//! and keeps the error type, so `?` and the classification of the result know `E` before the
//! body's value reaches the fn's return. Without the edge, the error types below that do not
//! implement `std::error::Error` (a `Display`-only enum, `Box<dyn Error>`) fail to compile.

use std::fmt::{self, Display};
use std::num::ParseIntError;

use redis_trace::redis_traced;

#[derive(Debug)]
enum UserError {
    Redis(redis::RedisError),
    BadId(ParseIntError),
}

impl From<redis::RedisError> for UserError {
    fn from(error: redis::RedisError) -> Self {
        Self::Redis(error)
    }
}

impl From<ParseIntError> for UserError {
    fn from(error: ParseIntError) -> Self {
        Self::BadId(error)
    }
}

impl Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Redis(error) => write!(f, "redis: {error}"),
            Self::BadId(error) => write!(f, "bad id: {error}"),
        }
    }
}

impl std::error::Error for UserError {}

/// An error that is `Display` but not `std::error::Error`.
#[derive(Debug)]
struct Plain(String);

impl Display for Plain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<ParseIntError> for Plain {
    fn from(error: ParseIntError) -> Self {
        Self(error.to_string())
    }
}

impl From<redis::RedisError> for Plain {
    fn from(error: redis::RedisError) -> Self {
        Self(error.to_string())
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[redis_traced(op = "GET", key = id)]
async fn name_async(
    conn: &mut redis::aio::MultiplexedConnection,
    id: &str,
) -> Result<impl Display, UserError> {
    let number: u64 = id.parse()?;
    let name: Option<String> = redis::AsyncCommands::get(conn, format!("user:{number}")).await?;
    Ok(name.unwrap_or_default())
}

#[redis_traced(op = "GET", key = id)]
fn name_sync(conn: &mut redis::Connection, id: &str) -> Result<impl Display, UserError> {
    let number: u64 = id.parse()?;
    let name: Option<String> = redis::Commands::get(conn, format!("user:{number}"))?;
    Ok(name.unwrap_or_default())
}

#[redis_traced(op = "GET", key = key)]
async fn redis_result(
    conn: &mut redis::aio::MultiplexedConnection,
    key: &str,
) -> redis::RedisResult<impl Display + Send> {
    let value: Option<String> = redis::AsyncCommands::get(conn, key).await?;
    Ok(value.unwrap_or_default())
}

#[redis_traced(op = "GET", key = key)]
fn redis_result_sync(conn: &mut redis::Connection, key: &str) -> redis::RedisResult<impl Display> {
    let value: Option<String> = redis::Commands::get(conn, key)?;
    Ok(value.unwrap_or_default())
}

/// Parsing alone: `?` converts through `From` with no Redis call to pin the type.
#[redis_traced(op = "GET", key = id)]
fn parse_only(id: &str) -> Result<impl Display + fmt::Debug, UserError> {
    let number: u64 = id.parse()?;
    Ok(number * 2)
}

#[redis_traced(op = "GET", key = id)]
async fn plain_async(
    conn: &mut redis::aio::MultiplexedConnection,
    id: &str,
) -> Result<impl Display, Plain> {
    let number: u64 = id.parse()?;
    let name: Option<String> = redis::AsyncCommands::get(conn, number).await?;
    Ok(name.unwrap_or_default())
}

#[redis_traced(op = "GET", key = id)]
fn plain_sync(id: &str) -> Result<impl Display, Plain> {
    let number: u64 = id.parse()?;
    Ok(number)
}

#[redis_traced(op = "GET", key = id)]
async fn boxed_async(
    conn: &mut redis::aio::MultiplexedConnection,
    id: &str,
) -> Result<impl Display, BoxError> {
    let number: u64 = id.parse()?;
    let name: Option<String> = redis::AsyncCommands::get(conn, number).await?;
    Ok(name.unwrap_or_default())
}

#[redis_traced(op = "GET", key = id)]
fn boxed_sync(id: &str) -> Result<impl Display, BoxError> {
    let number: u64 = id.parse()?;
    Ok(number)
}

fn main() {
    assert_eq!(parse_only("21").unwrap().to_string(), "42");
    assert!(matches!(parse_only("x"), Err(UserError::BadId(_))));
    assert_eq!(plain_sync("7").unwrap().to_string(), "7");
    assert_eq!(plain_sync("x").err().unwrap().0, "invalid digit found in string");
    assert_eq!(boxed_sync("8").unwrap().to_string(), "8");
    assert!(boxed_sync("x").is_err());
    let _ = (name_async, name_sync, redis_result, redis_result_sync);
    let _ = (plain_async, boxed_async);
}
