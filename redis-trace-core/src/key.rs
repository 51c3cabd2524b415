//! The key of a traced call (`key = ...` in the attribute).
//!
//! Nothing about the key is recorded yet: keys are user data, and recording them needs the key
//! policy (pattern, hash, omit, ...) that decides what a key may reveal. Until that lands the key
//! is passed to the operation and ignored, so the attribute's syntax and type checks are final.

/// A Redis key: anything redis-rs accepts as an argument (`&str`, `String`, `Vec<u8>`, numbers).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as a Redis key",
    label = "not a Redis key",
    note = "a key is anything redis-rs accepts as an argument (`redis::ToRedisArgs`): `&str`, `String`, `Vec<u8>`, integers; pass a field (`key = id.0`) or a formatted string"
)]
pub trait RedisKey {
    /// The key as the bytes sent to Redis (one entry per argument it expands to).
    fn key_args(&self) -> Vec<Vec<u8>>;
}

impl<T: redis::ToRedisArgs> RedisKey for T {
    fn key_args(&self) -> Vec<Vec<u8>> {
        self.to_redis_args()
    }
}
