//! What redis-trace's tests and benchmarks share (a dev-dependency, never published).
//!
//! - [`RedisServer`] / [`RedisCluster`] / [`RedisSentinel`]: private servers, clusters and
//!   Sentinel set-ups on free loopback ports, stopped on drop.
//! - [`capture`]: spans and metrics through the OpenTelemetry SDK's in-memory exporters, with
//!   attribute-by-attribute assertions.
//! - [`otlp`]: a real OTLP receiver (gRPC and HTTP/protobuf) and broken collectors.
//! - [`command_table`]: what a running server says about its commands (the table's staleness
//!   check, and a source of the generator in xtask/).
//! - [`mod@bench`]: the telemetry set-ups the benchmarks compare.
//! - [`CountingAllocator`] and [`block_on`]: allocation counting and a busy-polling executor for
//!   futures that never wait.

pub mod bench;
pub mod command_table;
pub mod counting;
mod counting_allocator;
pub mod otlp;
mod redis_cluster;
mod redis_sentinel;
mod redis_server;
mod telemetry;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

pub use counting_allocator::{allocations, CountingAllocator};
pub use redis_cluster::RedisCluster;
pub use redis_sentinel::{RedisSentinel, MASTER_NAME};
pub use redis_server::RedisServer;
pub use telemetry::{
    assert_exact_attributes, attributes, capture, expected, line_number, normalized, Capture,
    LaterMeterProvider,
};

/// `XGROUP CREATE stream group $ MKSTREAM` over `conn` (traced or not): an empty stream and a
/// consumer group reading what is added from now on.
pub async fn create_stream_group(
    conn: &mut (impl redis::aio::ConnectionLike + Send),
    stream: &str,
    group: &str,
) {
    redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(stream)
        .arg(group)
        .arg("$")
        .arg("MKSTREAM")
        .exec_async(conn)
        .await
        .expect("XGROUP CREATE");
}

/// Polls `future` to completion on this thread; for futures that never wait (no I/O).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}
