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
//!     #[redis_traced(op = "GET", key = "user:{id}", name = "get user")]
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
//! The attribute's arguments are documented on [`redis_traced`].
//!
//! # Public API
//!
//! Everything public is listed here; it follows semantic versioning.
//!
//! - [`redis_traced`]: the attribute.
//! - [`TracedConnection`] (and [`Pooled`] for pooled connections): every command and pipeline of
//!   a redis-rs connection traced.
//! - [`Config`] / [`ConfigBuilder`], [`KeyPolicy`] (with [`KeyRenderer`]), [`SemconvMode`]:
//!   process-wide settings.
//! - [`Endpoint`] / [`ToEndpoint`], [`set_default_endpoint`], [`clear_default_endpoint`],
//!   [`default_endpoint`]: the server attributes.
//! - [`set_tracer_provider`], [`reload_global_tracer`], [`set_meter_provider`],
//!   [`reload_global_meter`]: which OpenTelemetry providers record.
//! - [`FieldValue`]: what `fields(...)` accepts; implement it for your own types.
//! - [`semconv`]: the attribute, metric and scope names written.
//!
//! `__private` is what the expansion calls; it is hidden and changes without notice.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use redis_trace_core::{
    clear_default_endpoint, default_endpoint, reload_global_meter, reload_global_tracer, semconv,
    set_default_endpoint, set_meter_provider, set_tracer_provider, Config, ConfigBuilder, Endpoint,
    FieldValue, KeyPolicy, KeyRenderer, Pooled, SemconvMode, ToEndpoint, TracedConnection,
};
pub use redis_trace_macros::redis_traced;

#[doc(hidden)]
pub use redis_trace_core::__private;
