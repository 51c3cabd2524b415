//! The expansion is lint-clean: this target is compiled by CI's
//! `cargo clippy --workspace --all-targets -- -D warnings` with the strictest lint levels on.
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

#[test]
fn lint_clean_fns_run() {
    let mut repo = Repo {
        client: redis::Client::open("redis://127.0.0.1:1/").unwrap(),
        prefix: String::new(),
    };
    repo.touch("a", "b");
    assert!(repo.exists());
}
