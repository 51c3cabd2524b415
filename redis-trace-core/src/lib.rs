//! Runtime of [redis-trace](https://docs.rs/redis-trace): the per-call [`Operation`] guard the
//! `#[redis_traced]` attribute expands to, result classification ([`Outcome`]), endpoint
//! attributes ([`Endpoint`]) and the cached tracer.
//!
//! Use it through the `redis-trace` crate, which re-exports everything here.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod callsite;
pub mod config;
pub mod connection;
pub mod endpoint;
mod fast_path;
pub mod fields;
mod intern;
pub mod key;
pub mod metrics;
pub mod operation;
pub mod outcome;
mod resp;
pub mod semconv;
pub mod statement;
pub mod tracer;

pub use callsite::Callsite;
pub use config::{Config, ConfigBuilder, SemconvMode};
pub use connection::{Pooled, TracedConnection};
pub use endpoint::{
    clear_default_endpoint, default_endpoint, set_default_endpoint, Endpoint, ToEndpoint,
};
pub use fields::FieldValue;
pub use key::{KeyPolicy, RedisKey};
pub use metrics::{reload_global_meter, set_meter_provider};
pub use operation::Operation;
pub use outcome::{ErrorAttributes, Failure, Outcome};
/// The Redis command table (generated from redis-server), shared with the macro.
pub use redis_trace_commands as commands;
pub use tracer::{reload_global_tracer, set_tracer_provider};

/// What generated code calls. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::__outcome as outcome;
    pub use crate::callsite::{Callsite, CallsiteKeyPolicy};
    pub use crate::endpoint::ToEndpoint;
    pub use crate::fields::FieldValue;
    pub use crate::key::RedisKey;
    pub use crate::operation::Operation;
    pub use crate::outcome::ladder;
    pub use crate::outcome::{Outcome, Probe, Shape};

    /// The value of the unreachable "fake return" that gives an async body its declared type.
    #[must_use]
    pub fn unreachable<T>() -> T {
        unreachable!("redis-trace's type hint is never executed")
    }
}
