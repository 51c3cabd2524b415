//! Redis Sentinel with real processes (a master, a replica, a Sentinel on loopback ports the
//! harness picks): spans carry the configured Sentinels and master name in `server.address`,
//! and the master that served them in `network.peer.*`, before a failover and after it.

use opentelemetry::Value;
use redis::sentinel::{SentinelClient, SentinelServerType};
use redis::AsyncCommands;
use redis_trace::{Endpoint, TracedSentinelClient};
use redis_trace_harness::{attributes, capture, RedisSentinel, MASTER_NAME};

#[tokio::test]
async fn spans_name_the_master_before_and_after_a_failover() {
    let capture = capture();
    let set_up = RedisSentinel::start();
    let client = SentinelClient::build(
        vec![set_up.sentinel_url()],
        MASTER_NAME.to_owned(),
        None,
        SentinelServerType::Master,
    )
    .unwrap();
    let sentinels: Vec<redis::ConnectionInfo> = vec![set_up.sentinel_url().parse().unwrap()];
    let mut sentinel = TracedSentinelClient::new(client)
        .with_endpoint(Endpoint::sentinels(&sentinels, MASTER_NAME));

    let mut before = sentinel.get_async_connection().await.unwrap();
    let _: () = before.set("order:1", "new").await.unwrap();
    set_up.fail_over();
    // The demoted master closed its clients: the old connection's command fails, traced.
    let stale: redis::RedisResult<()> = before.set("order:1", "paid").await;
    assert!(stale.is_err(), "{stale:?}");
    let mut after = sentinel.get_async_connection().await.unwrap();
    let _: () = after.set("order:1", "paid").await.unwrap();
    let mut blocking = sentinel.get_connection().unwrap();
    redis::cmd("GET")
        .arg("order:1")
        .exec(&mut blocking)
        .unwrap();

    let spans = capture.spans();
    let target = format!(
        "{}/{MASTER_NAME}",
        set_up.sentinel_url().trim_start_matches("redis://")
    );
    for span in &spans {
        let recorded = attributes(span);
        assert_eq!(recorded["server.address"], Value::from(target.clone()));
        assert!(!recorded.contains_key("server.port"), "a list has no port");
        assert_eq!(recorded["network.peer.address"], Value::from("127.0.0.1"));
    }
    let port = |index: usize| attributes(&spans[index])["network.peer.port"].clone();
    let (old, new) = (set_up.master_port(), set_up.replica_port());
    assert_eq!(port(0), Value::I64(old.into()), "before the failover");
    assert_eq!(port(1), Value::I64(old.into()), "the stale connection");
    assert!(attributes(&spans[1]).contains_key("error.type"));
    assert_eq!(port(2), Value::I64(new.into()), "after the failover");
    assert_eq!(spans[2].name, format!("SET {target}"));
    assert_eq!(port(3), Value::I64(new.into()), "a blocking connection");

    // The duration metric says the same: one SET series per (master, outcome), each point with
    // the configured target.
    let mut sets: Vec<(Value, bool, u64)> = (capture.metric_points("db.client.operation.duration"))
        .into_iter()
        .filter(|point| point.attributes["db.operation.name"] == Value::from("SET"))
        .map(|point| {
            assert_eq!(
                point.attributes["server.address"],
                Value::from(target.clone())
            );
            assert!(!point.attributes.contains_key("server.port"));
            let failed = point.attributes.contains_key("error.type");
            (
                point.attributes["network.peer.port"].clone(),
                failed,
                point.value,
            )
        })
        .collect();
    sets.sort_by_key(|(port, failed, _)| (port.to_string(), *failed));
    let mut expected = vec![
        (Value::I64(old.into()), false, 1),
        (Value::I64(old.into()), true, 1),
        (Value::I64(new.into()), false, 1),
    ];
    expected.sort_by_key(|(port, failed, _)| (port.to_string(), *failed));
    assert_eq!(sets, expected);
}
