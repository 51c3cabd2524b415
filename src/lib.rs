//! OpenTelemetry CLIENT spans for your Redis functions, with one attribute.
//!
//! ```no_run
//! use redis::AsyncCommands;
//! use redis_trace::redis_traced;
//!
//! struct UserRepo {
//!     conn: redis::aio::MultiplexedConnection,
//! }
//!
//! impl UserRepo {
//!     #[redis_traced(op = "GET", key = id, name = "get user")]
//!     async fn get_user(&self, id: &str) -> redis::RedisResult<Option<String>> {
//!         self.conn.clone().get(format!("user:{id}")).await
//!     }
//! }
//! ```
//!
//! Each call records a span named `get user` with `db.system.name = "redis"`,
//! `db.operation.name = "GET"`, `db.query.summary`, the endpoint attributes (see
//! [`set_default_endpoint`]), `cache.hit` from the `Option`, and on failure status Error,
//! `error.type` and `db.response.status_code`. See the README for the full list.
//!
//! The attribute's arguments are documented on [`redis_traced`]; the runtime it calls is
//! `redis-trace-core`, re-exported here.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use redis_trace_core::*;
pub use redis_trace_macros::redis_traced;
