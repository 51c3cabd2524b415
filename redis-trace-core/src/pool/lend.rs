//! What every pool wrapper does in `get()`: lend a traced connection and time the wait; and
//! the default pool name.

use std::sync::Arc;
use std::time::Instant;

use super::{record, Lease};
use crate::connection::TracedConnection;
use crate::endpoint::Endpoint;
use crate::metrics::PoolTelemetry;

/// What a borrow that started at `started` ended with: a lent traced connection (its wait in
/// `db.client.connection.wait_time`), or the pool's error (in `db.client.connection.timeouts`
/// when `timed_out` says the wait gave up).
pub(super) fn lend<C, E>(
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
pub(super) fn default_name(endpoint: &Endpoint) -> String {
    let address = endpoint.address().unwrap_or("redis");
    let database = endpoint.database().unwrap_or(0);
    match endpoint.port() {
        Some(port) => format!("{address}:{port}/{database}"),
        None => format!("{address}/{database}"),
    }
}
