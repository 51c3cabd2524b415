//! Runtime of [redis-trace](https://docs.rs/redis-trace): the per-call operation guard the
//! `#[redis_traced]` attribute expands to, the traced connection, configuration, endpoints and
//! the process-wide state they share.
//!
//! Use it through the `redis-trace` crate, which re-exports the public items listed there. Most
//! modules are private; `messaging`, `pool`, `semconv` and `testing` (feature `testing`) are
//! public, and what generated code needs is under [`__private`], which is not a public API.
//!
//! Layout: one concept per module, arrows one way at every level (`tests/layout.rs` checks);
//! CONTRIBUTING.md has the map.
//! - `globals`: what the user installs (configuration, default endpoint, tracer and meter
//!   providers) and the fast-path flag, read by every call through one per-thread snapshot
//!   (other process-wide state lives with its concept: `globals` lists where).
//! - `config`, `endpoint`, `key` (policies, templates), `fields`: what users configure and pass.
//! - `callsite` (static per annotated fn), `operation` (the per-call guard: lifecycle,
//!   attributes, scope), `outcome` (result shapes), `failure` (errors → attributes).
//! - `connection` (`TracedConnection` and what it describes), `command` (a command's span
//!   attributes and replies), `statement` (sanitized `db.query.text`), `summary` (a
//!   command's `db.query.summary`, within its budget), `args` (what a command's arguments say).
//! - `messaging` (pub/sub and streams: what a messaging command is, send, receive, process,
//!   the carrier and envelope), `pool` (the pool integrations).
//! - `metrics` (every instrument and tally), `tracer` (the tracer in use), `semconv` (names).
//! - `sink`, `intern`, `text`: building blocks.
//! - `testing` (feature `testing`): in-memory telemetry for tests, span trees, the trace view.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod args;
mod callsite;
mod command;
mod config;
mod connection;
mod endpoint;
mod failure;
mod fields;
mod globals;
mod intern;
mod key;
pub mod messaging;
mod metrics;
mod operation;
mod outcome;
pub mod pool;
pub mod semconv;
mod sink;
mod span_names;
mod statement;
mod summary;
#[cfg(feature = "testing")]
pub mod testing;
mod text;
mod tracer;

pub use config::{Config, ConfigBuilder, SemconvMode};
#[cfg(feature = "client-side-caching")]
pub use connection::CacheStatisticsSource;
#[cfg(feature = "sentinel")]
pub use connection::TracedSentinelClient;
pub use connection::{Resp3Subscriber, TracedConnection};
pub use endpoint::{Endpoint, ToEndpoint};
pub use fields::FieldValue;
pub use globals::{
    clear_default_endpoint, default_endpoint, reload_global_meter, reload_global_tracer,
    set_default_endpoint, use_meter_provider, use_tracer_provider,
};
pub use key::{KeyPolicy, KeyRenderer};

/// What generated code calls. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::__classify as classify;
    pub use crate::callsite::{Callsite, CallsiteKeyPolicy};
    pub use crate::endpoint::ToEndpoint;
    pub use crate::failure::Failure;
    pub use crate::fields::FieldValue;
    pub use crate::globals::nothing_to_record;
    pub use crate::key::KeyTemplate;
    pub use crate::key::RedisKey;
    pub use crate::operation::{Fields, Instrumented, Operation};
    pub use crate::outcome::ladder;
    pub use crate::outcome::{Outcome, Probe, Shape};
    /// The names of the attributes the macro writes itself (`ttl`, `procedure`).
    pub mod semconv {
        pub use crate::semconv::{DB_STORED_PROCEDURE_NAME, REDIS_TTL};
    }

    /// The value of the unreachable "fake return" that gives an async body its declared type.
    #[must_use]
    pub fn unreachable<T>() -> T {
        unreachable!("redis-trace's type hint is never executed")
    }
}
