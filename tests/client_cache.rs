//! Client-side caching (redis-rs `cache-aio`, RESP3) through `TracedConnection`: which reads
//! the process's memory answered, per span and in the `redis.client.csc.*` counters. A real
//! redis-server, the SDK's in-memory exporters.

use std::time::{Duration, Instant};

use opentelemetry::Value;
use redis::aio::MultiplexedConnection;
use redis::caching::CacheConfig;
use redis::{AsyncCommands, AsyncConnectionConfig};
use redis_trace::TracedConnection;
use redis_trace_harness::{attributes, capture, Capture, RedisServer};

const RESULT: &str = "redis.client.csc.result";

/// A RESP3 connection with redis-rs's client-side cache, and its URL's client.
async fn caching_connection(server: &RedisServer) -> (MultiplexedConnection, redis::Client) {
    let client = redis::Client::open(format!("{}?protocol=resp3", server.url(0))).unwrap();
    let config = AsyncConnectionConfig::new().set_cache_config(CacheConfig::new());
    let conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .unwrap();
    (conn, client)
}

fn text(value: &str) -> Value {
    Value::String(value.to_owned().into())
}

/// The `redis.client.csc.result` of every GET span, in order (`None`: unmarked).
fn get_results(capture: &Capture) -> Vec<Option<String>> {
    (capture.spans().iter())
        .filter(|span| span.name.starts_with("GET "))
        .map(|span| {
            attributes(span)
                .get(RESULT)
                .map(|value| value.as_str().into_owned())
        })
        .collect()
}

/// The value of `redis.client.csc.requests` for `result`, on this server's connections.
fn requests(capture: &Capture, server: &RedisServer, result: &str) -> u64 {
    let port = Value::I64(i64::from(server.port()));
    (capture.metric_points("redis.client.csc.requests").iter())
        .filter(|point| point.attributes.get("server.port") == Some(&port))
        .filter(|point| point.attributes.get(RESULT) == Some(&text(result)))
        .map(|point| point.value)
        .sum()
}

fn evictions(capture: &Capture, server: &RedisServer) -> u64 {
    let port = Value::I64(i64::from(server.port()));
    (capture.metric_points("redis.client.csc.evictions").iter())
        .filter(|point| point.attributes.get("server.port") == Some(&port))
        .map(|point| point.value)
        .sum()
}

/// A GET twice: the first reached Redis (`miss`), the second did not (`hit`); the counters
/// match redis-rs's statistics exactly; another client's write invalidates the entry, which the
/// eviction counter shows, and the next GET is a miss again.
#[tokio::test]
async fn a_second_get_is_answered_by_the_client_side_cache() {
    let capture = capture();
    let server = RedisServer::start();
    let mut writer = server.connection(0).await;
    let _: () = writer.set("user:1", "ada").await.unwrap();
    let (inner, client) = caching_connection(&server).await;
    let mut conn = TracedConnection::new(inner.clone())
        .with_endpoint(&client)
        .with_client_side_caching();

    for _ in 0..2 {
        let name: Option<String> = conn.get("user:1").await.unwrap();
        assert_eq!(name.as_deref(), Some("ada"));
    }
    assert_eq!(
        get_results(&capture),
        [Some("miss".into()), Some("hit".into())]
    );
    let hit = capture
        .spans()
        .into_iter()
        .filter(|s| s.name.starts_with("GET"))
        .nth(1);
    let hit = attributes(&hit.unwrap());
    assert_eq!(hit["cache.hit"], Value::Bool(true), "the key had a value");
    assert_eq!(hit["db.operation.name"], text("GET"));
    let durations = capture.metric_points("db.client.operation.duration");
    for result in ["hit", "miss"] {
        let point = (durations.iter())
            .find(|point| point.attributes.get(RESULT) == Some(&text(result)))
            .unwrap_or_else(|| panic!("a duration point for {result}: {durations:?}"));
        assert_eq!(point.value, 1);
        assert_eq!(point.attributes["db.operation.name"], text("GET"));
    }

    let statistics = inner.get_cache_statistics().unwrap();
    assert_eq!((statistics.hit, statistics.miss), (1, 1));
    assert_eq!(requests(&capture, &server, "hit"), 1);
    assert_eq!(requests(&capture, &server, "miss"), 1);
    assert_eq!(evictions(&capture, &server), 0);

    // Another client's write: the server tells the connection, redis-rs drops the entry.
    let _: () = writer.set("user:1", "grace").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while inner.get_cache_statistics().unwrap().invalidate == 0 {
        assert!(Instant::now() < deadline, "no invalidation arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(evictions(&capture, &server), 1);
    capture.clear();
    let name: Option<String> = conn.get("user:1").await.unwrap();
    assert_eq!(name.as_deref(), Some("grace"));
    let statistics = inner.get_cache_statistics().unwrap();
    assert_eq!((statistics.hit, statistics.miss), (1, 2));
    let spans = capture.spans();
    assert_eq!(attributes(&spans[0])[RESULT], text("miss"));
}

/// Two tasks share one caching connection: one reads a cached key (always a hit), the other new
/// keys (always a miss). A span is marked correctly or not at all (when the reads overlapped);
/// the counters stay exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reads_are_marked_correctly_or_not_at_all() {
    let capture = capture();
    let server = RedisServer::start();
    let mut writer = server.connection(0).await;
    let _: () = writer.set("hot", "1").await.unwrap();
    let (inner, client) = caching_connection(&server).await;
    let conn = TracedConnection::new(inner.clone())
        .with_endpoint(&client)
        .with_client_side_caching();
    let _: String = conn.clone().get("hot").await.unwrap();
    capture.clear(); // the counters count from here
    let before = inner.get_cache_statistics().unwrap();

    const READS: usize = 300;
    let mut hot = conn.clone();
    let hits = tokio::spawn(async move {
        for _ in 0..READS {
            let _: String = hot.get("hot").await.unwrap();
        }
    });
    let mut cold = conn.clone();
    let misses = tokio::spawn(async move {
        for i in 0..READS {
            let _: Option<String> = cold.get(format!("cold:{i}")).await.unwrap();
        }
    });
    hits.await.unwrap();
    misses.await.unwrap();

    let (mut marked, mut unmarked) = (0, 0);
    for span in capture.spans() {
        let attributes = attributes(&span);
        let Some(result) = attributes.get(RESULT) else {
            unmarked += 1;
            continue;
        };
        marked += 1;
        // The hot key has a value, the cold ones none.
        let expected = match attributes["cache.hit"] {
            Value::Bool(true) => "hit",
            _ => "miss",
        };
        assert_eq!(result, &text(expected), "{span:?}");
    }
    assert_eq!(marked + unmarked, 2 * READS);
    println!("{marked} of {} concurrent reads marked", 2 * READS);

    let statistics = inner.get_cache_statistics().unwrap();
    assert_eq!((statistics.hit, statistics.miss), (READS, READS + 1));
    let hits = statistics.hit - before.hit;
    let misses = statistics.miss - before.miss;
    assert_eq!(requests(&capture, &server, "hit") as usize, hits);
    assert_eq!(requests(&capture, &server, "miss") as usize, misses);

    // A certain overlap: a miss held up by a paused server while hits are answered locally.
    // Every read of that window is left unmarked, the pending miss too.
    capture.clear();
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(300)
        .arg("ALL")
        .query_async(&mut writer)
        .await
        .unwrap();
    let mut late = conn.clone();
    let pending = tokio::spawn(async move { late.get::<_, Option<String>>("cold:late").await });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let mut hot = conn.clone();
    for _ in 0..10 {
        let _: String = hot.get("hot").await.unwrap();
    }
    assert_eq!(pending.await.unwrap().unwrap(), None);
    let spans = capture.spans();
    assert_eq!(spans.len(), 11);
    for span in &spans {
        assert!(
            !attributes(span).contains_key(RESULT),
            "overlapped: {span:?}"
        );
    }
}

/// What is not a lookup, and a connection without the option, carry no cache result.
#[tokio::test]
async fn only_lookups_of_a_watched_cache_are_marked() {
    let capture = capture();
    let server = RedisServer::start();
    let (inner, client) = caching_connection(&server).await;
    let mut watched = TracedConnection::new(inner.clone())
        .with_endpoint(&client)
        .with_client_side_caching();
    let _: () = watched.set("k", "v").await.unwrap();
    let _: i64 = watched.incr("n", 1).await.unwrap();
    let mut unwatched = TracedConnection::new(inner).with_endpoint(&client);
    let _: String = unwatched.get("k").await.unwrap();
    let _: String = unwatched.get("k").await.unwrap();
    let spans = capture.spans();
    assert_eq!(spans.len(), 4);
    for span in &spans {
        assert!(!attributes(span).contains_key(RESULT), "{span:?}");
    }
}
