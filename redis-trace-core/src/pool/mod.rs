//! Connection pools: for each supported pool (deadpool-redis, bb8, r2d2; each behind its
//! feature) one way in that hands out traced connections and reports the standard
//! `db.client.connection.*` metrics (`crate::pooling` holds the registry and instruments):
//! `count` by state, `max`, `idle.min` where the pool knows it and `pending_requests` when
//! metrics are collected; `wait_time`, `timeouts` and `use_time` per borrow; `create_time` and a
//! set-up span for connections redis-trace opens itself (`connection/connect.rs`).

mod lease;
#[cfg(any(feature = "bb8", feature = "r2d2"))]
mod registration;

use std::sync::Arc;
use std::time::Instant;

use crate::connection::TracedConnection;
use crate::endpoint::Endpoint;
use crate::globals;
use crate::pooling::{PoolInstruments, PoolTelemetry};

pub use lease::Lease;

/// Records with `pool`'s instruments, when metrics are recorded.
pub(crate) fn record(pool: &PoolTelemetry, measure: impl FnOnce(&PoolInstruments, &PoolTelemetry)) {
    globals::with_instruments(|instruments| measure(instruments.pool(), pool));
}

/// What a borrow that started at `started` ended with: a lent traced connection (its wait in
/// `db.client.connection.wait_time`), or the pool's error (in `db.client.connection.timeouts`
/// when `timed_out` says the wait gave up).
#[cfg_attr(
    not(any(feature = "bb8", feature = "deadpool", feature = "r2d2")),
    allow(dead_code)
)]
pub(crate) fn lend<C, E>(
    pool: &Arc<PoolTelemetry>,
    endpoint: &Endpoint,
    started: Instant,
    result: Result<C, E>,
    timed_out: impl FnOnce(&E) -> bool,
) -> Result<Lease<C>, E> {
    match result {
        Ok(connection) => {
            let waited = started.elapsed().as_secs_f64();
            record(pool, |i, p| i.wait_time.record(waited, p.attributes()));
            let traced = TracedConnection::new(connection).with_endpoint(endpoint);
            Ok(Lease::new(traced, Arc::clone(pool)))
        }
        Err(error) => {
            if timed_out(&error) {
                record(pool, |i, p| i.timeouts.add(1, p.attributes()));
            }
            Err(error)
        }
    }
}

/// `address:port/db` (or `path/db` for a unix socket), the default pool name.
#[cfg_attr(
    not(any(feature = "bb8", feature = "deadpool", feature = "r2d2")),
    allow(dead_code)
)]
pub(crate) fn default_name(endpoint: &Endpoint) -> String {
    let address = endpoint.address().unwrap_or("redis");
    let database = endpoint.database().unwrap_or(0);
    match endpoint.port() {
        Some(port) => format!("{address}:{port}/{database}"),
        None => format!("{address}/{database}"),
    }
}

#[cfg(feature = "bb8")]
pub mod bb8;
#[cfg(feature = "deadpool")]
pub mod deadpool;
#[cfg(feature = "r2d2")]
pub mod r2d2;
