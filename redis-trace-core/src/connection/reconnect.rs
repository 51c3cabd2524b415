//! What a `ConnectionManager`'s reconnect looks like in telemetry.
//!
//! redis-rs reconnects a `ConnectionManager` by itself after a command fails because the
//! connection dropped; it reports the disconnection only to a RESP3 push sender, so redis-trace
//! reads it from the commands instead: after such a failure, the next command that succeeds ran
//! on the new connection. Its span gets the event `redis_trace.reconnected`, and
//! `redis_trace.connection.reconnects` counts one.

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::KeyValue;
use redis::RedisResult;

use crate::command::Replies;
use crate::endpoint::Endpoint;
use crate::operation::Operation;
use crate::{globals, semconv};

/// Whether the connection was lost since the last command that succeeded.
#[derive(Debug, Default)]
pub(super) struct Reconnects {
    lost: AtomicBool,
}

impl Reconnects {
    /// Notes a lost connection, or marks the first success after one on `operation`'s span.
    pub(super) fn observe<R: Replies>(
        &self,
        result: &RedisResult<R>,
        operation: &Operation,
        endpoint: Option<&Endpoint>,
    ) {
        match result {
            Err(error) if error.is_connection_dropped() || error.is_io_error() => {
                self.lost.store(true, Ordering::Relaxed);
            }
            Ok(_) if self.lost.swap(false, Ordering::Relaxed) => {
                operation.add_event(semconv::RECONNECTED);
                count(endpoint);
            }
            _ => {}
        }
    }
}

fn count(endpoint: Option<&Endpoint>) {
    let endpoint = endpoint
        .cloned()
        .or_else(|| globals::settings().default_endpoint.clone());
    let mut attributes = vec![KeyValue::new(semconv::DB_SYSTEM_NAME, semconv::REDIS)];
    if let Some(endpoint) = &endpoint {
        endpoint.push_server_attributes(&mut attributes);
    }
    globals::with_instruments(|i| i.pool().reconnects.add(1, &attributes));
}
