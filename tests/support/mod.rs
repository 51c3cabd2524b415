//! Shared test harness: a private redis-server and span capture.
#![allow(dead_code, unused_imports)]

pub mod command_table;
pub mod redis_cluster;
pub mod redis_server;
pub mod telemetry;

pub use redis_cluster::RedisCluster;
pub use redis_server::RedisServer;
pub use telemetry::{
    assert_attributes, attributes, capture, expected, line_number, normalized, Capture,
};
