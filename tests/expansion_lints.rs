//! A compile-time check, with nothing to run: the expansion of every argument is lint-clean.
//!
//! CI's `cargo clippy --workspace --all-targets -- -D warnings` lints this target with the
//! strictest levels on, so a lint the expansion triggers in users' code fails CI here. It is a
//! test target without a harness (`harness = false` in `Cargo.toml`) only so that it is linted.
#![deny(warnings, clippy::all, clippy::pedantic)]
#![forbid(unsafe_code)]

use redis_trace::redis_traced;

/// Repository under the strictest lints.
pub struct Repo {
    client: redis::Client,
    prefix: String,
}

impl Repo {
    /// Every argument at once.
    ///
    /// # Errors
    /// When Redis fails.
    #[redis_traced(op = "GET", key = id, name = "get", endpoint = self.client)]
    pub async fn get(&self, id: &str) -> redis::RedisResult<Option<String>> {
        let mut conn = self.client.get_multiplexed_async_connection().await?;
        redis::AsyncCommands::get(&mut conn, format!("{}:{id}", self.prefix)).await
    }

    /// Several keys, sync, unit return.
    #[redis_traced(op = "MGET", keys = [first, second])]
    pub fn touch(&mut self, first: &str, second: &str) {
        self.prefix = format!("{first}{second}");
    }

    /// A plain value and a bool.
    #[redis_traced(op = "EXISTS", key = self.prefix)]
    #[must_use]
    pub fn exists(&self) -> bool {
        !self.prefix.is_empty()
    }

    /// Returns nothing.
    #[redis_traced(op = "PING")]
    pub async fn ping() {}
}

fn main() {}
