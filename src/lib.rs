#![doc = include_str!("../docs/guide.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "sentinel")]
#[cfg_attr(docsrs, doc(cfg(feature = "sentinel")))]
pub use redis_trace_core::TracedSentinelClient;

#[cfg(feature = "client-side-caching")]
#[cfg_attr(docsrs, doc(cfg(feature = "client-side-caching")))]
pub use redis_trace_core::CacheStatisticsSource;

pub use redis_trace_core::messaging;

/// Connection pools: the `db.client.connection.*` metrics and traced connections, for
/// deadpool-redis (feature `deadpool`), bb8 (`bb8`) and r2d2 (`r2d2`); [`pool::Lease`] is what
/// their `get()` returns; [`pool::Pooled`] traces a connection borrowed from any other pool.
pub mod pool {
    #[cfg(feature = "bb8")]
    #[cfg_attr(docsrs, doc(cfg(feature = "bb8")))]
    pub use redis_trace_core::pool::bb8;
    #[cfg(feature = "deadpool")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deadpool")))]
    pub use redis_trace_core::pool::deadpool;
    #[cfg(feature = "r2d2")]
    #[cfg_attr(docsrs, doc(cfg(feature = "r2d2")))]
    pub use redis_trace_core::pool::r2d2;
    pub use redis_trace_core::pool::{Lease, Pooled};
}
pub use redis_trace_core::{
    clear_default_endpoint, default_endpoint, reload_global_meter, reload_global_tracer, semconv,
    set_default_endpoint, use_meter_provider, use_tracer_provider, Config, ConfigBuilder, Endpoint,
    FieldValue, KeyPolicy, KeyRenderer, Resp3Subscriber, SemconvMode, ToEndpoint, TracedConnection,
};
pub use redis_trace_macros::redis_traced;

/// What generated code calls. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::__outcome as outcome;
    pub use redis_trace_core::__private::*;
}

/// Classifies a traced function's `&result` (generated code only): the runtime's ladder, named
/// through this crate, the one runtime path an expansion shows.
#[doc(hidden)]
#[macro_export]
macro_rules! __outcome {
    ($result:expr) => {
        $crate::__private::classify!([$crate::__private] $result)
    };
}

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing {
    //! Check your own instrumentation in your own tests (feature `testing`).
    //!
    //! [`Telemetry::install`] is the one-line set-up: a tracer and a meter provider that export
    //! into memory, installed for redis-trace and as OpenTelemetry's global providers, for as
    //! long as the returned value lives. Then read what was recorded: [`Telemetry::spans`],
    //! [`Telemetry::span`] by name, [`Telemetry::tree`] (parents and children),
    //! [`Telemetry::metric_points`]; compare attributes with [`assert_attributes`]; and print
    //! [`Telemetry::view`], the spans as a tree with a timeline, and [`Telemetry::patterns`], a
    //! table per key pattern (calls, errors, p50, p99, hit ratio).
    //!
    //! ```
    //! use redis_trace::testing::{assert_attributes, Telemetry};
    //!
    //! #[redis_trace::redis_traced(op = "GET", key = "user:{id}", name = "get user")]
    //! fn get_user(id: u64) -> redis::RedisResult<Option<String>> {
    //!     Ok(None) // your code talks to Redis here
    //! }
    //!
    //! let telemetry = Telemetry::install();
    //! get_user(42).unwrap();
    //!
    //! let span = telemetry.span("get user");
    //! assert_attributes(
    //!     &span,
    //!     &[
    //!         ("db.operation.name", "GET".into()),
    //!         ("redis.key", "user:?".into()),
    //!         ("cache.hit", false.into()),
    //!     ],
    //! );
    //! let calls = telemetry.metric_points("db.client.operation.duration");
    //! assert_eq!(calls[0].value, 1); // one call in the duration histogram
    //! println!("{}", telemetry.view());
    //! ```
    //!
    //! Tests of one binary run on several threads while providers and settings are process-wide,
    //! so [`Telemetry::install`] takes a process-wide lock, held until the value is dropped: tests
    //! that install it run one after another and never see each other's spans.
    //!
    //! Add it for tests only:
    //!
    //! ```toml
    //! [dev-dependencies]
    //! redis-trace = { version = "0.1", features = ["testing"] }
    //! ```

    pub use redis_trace_core::testing::{
        assert_attributes, attributes, MetricPoint, PatternReport, PatternRow, SpanNode, SpanTree,
        Telemetry, TraceView, DEFAULT_ATTRIBUTES,
    };
}
