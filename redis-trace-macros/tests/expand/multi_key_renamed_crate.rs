#[redis_traced(op = "MGET", keys = [first, second], crate = ::traced_redis)]
async fn both(conn: &mut Connection, first: &str, second: &str) -> Result<Vec<Option<String>>, AppError> {
    Ok(conn.mget(&[first, second]).await?)
}
