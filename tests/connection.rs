//! `TracedConnection`: command spans on every connection type, pipelines and transactions as
//! one span, a real Redis Cluster. Real redis-servers, SDK in-memory exporters.

use redis_trace_harness as support;

use opentelemetry::Value;
use redis::AsyncCommands;
use redis_trace::pool::Pooled;
use redis_trace::{redis_traced, Config, Endpoint, TracedConnection};
use support::{assert_exact_attributes, attributes, capture, expected, RedisCluster, RedisServer};

fn command_attributes(
    server: &RedisServer,
    operation: &str,
    statement: &str,
) -> std::collections::BTreeMap<String, Value> {
    expected([
        ("db.system.name", "redis".into()),
        ("db.operation.name", operation.to_owned().into()),
        ("db.query.text", statement.to_owned().into()),
        ("server.address", "127.0.0.1".into()),
        ("server.port", i64::from(server.port()).into()),
        ("db.namespace", "0".into()),
    ])
}

async fn exercise<C: redis::aio::ConnectionLike + Send + Sync>(conn: &mut TracedConnection<C>) {
    let _: () = conn.set_ex("user:1", "secret-value", 60).await.unwrap();
    let value: Option<String> = conn.get("user:1").await.unwrap();
    assert_eq!(value.as_deref(), Some("secret-value"));
    let missing: Option<String> = conn.get("user:404").await.unwrap();
    assert_eq!(missing, None);
    let lock = redis::SetOptions::default().conditional_set(redis::ExistenceCheck::NX);
    let taken: bool = conn.set_options("user:1", "other", lock).await.unwrap();
    assert!(!taken, "user:1 exists: SET NX does not apply");
    let values: Vec<Option<String>> = conn.mget(&["user:1", "user:404", "user:1"]).await.unwrap();
    assert_eq!(values.iter().flatten().count(), 2);
    let _: () = conn
        .hset("profile:1", "email", "ada@example.com")
        .await
        .unwrap();
    let error = conn.incr::<_, _, i64>("user:1", 1).await.unwrap_err();
    assert_eq!(error.code(), Some("ERR"));
}

fn assert_exercised(capture: &support::Capture, server: &RedisServer) {
    let spans = capture.spans();
    let target = format!("127.0.0.1:{}", server.port());
    let names: Vec<String> = spans.iter().map(|s| s.name.to_string()).collect();
    assert_eq!(
        names,
        [
            format!("SETEX {target}"),
            format!("GET {target}"),
            format!("GET {target}"),
            format!("SET {target}"),
            format!("MGET {target}"),
            format!("HSET {target}"),
            format!("INCRBY {target}"),
        ]
    );
    assert_exact_attributes(
        &spans[0],
        command_attributes(server, "SETEX", "SETEX user:? ? ?"),
    );
    // Lookups say hit or miss, a conditional write whether it applied, other commands neither.
    let mut hit = command_attributes(server, "GET", "GET user:?");
    hit.insert("cache.hit".into(), true.into());
    assert_exact_attributes(&spans[1], hit);
    let mut miss = command_attributes(server, "GET", "GET user:?");
    miss.insert("cache.hit".into(), false.into());
    assert_exact_attributes(&spans[2], miss);
    let mut not_applied = command_attributes(server, "SET", "SET user:? ? NX");
    not_applied.insert("redis.applied".into(), false.into());
    assert_exact_attributes(&spans[3], not_applied);
    let mut counted = command_attributes(server, "MGET", "MGET user:? user:? user:?");
    counted.insert("cache.hit_count".into(), 2_i64.into());
    counted.insert("cache.miss_count".into(), 1_i64.into());
    assert_exact_attributes(&spans[4], counted);
    assert_exact_attributes(
        &spans[5],
        command_attributes(server, "HSET", "HSET profile:? ? ?"),
    );
    let mut failed = command_attributes(server, "INCRBY", "INCRBY user:? ?");
    failed.insert("error.type".into(), "ERR".into());
    failed.insert("db.response.status_code".into(), "ERR".into());
    assert_exact_attributes(&spans[6], failed);
    for span in &spans {
        assert_eq!(span.span_kind, opentelemetry::trace::SpanKind::Client);
        let text = format!("{:?}", span.attributes);
        assert!(
            !text.contains("secret-value") && !text.contains("ada@example.com"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn multiplexed_connection() {
    let capture = capture();
    let server = RedisServer::start();
    let client = server.client();
    let mut conn = TracedConnection::new(server.connection(0).await).with_endpoint(&client);
    exercise(&mut conn).await;
    assert_exercised(&capture, &server);
}

#[tokio::test]
async fn connection_manager() {
    let capture = capture();
    let server = RedisServer::start();
    let client = server.client();
    let mut conn = TracedConnection::new(
        redis::aio::ConnectionManager::new(client.clone())
            .await
            .unwrap(),
    )
    .with_endpoint(&client);
    exercise(&mut conn).await;
    assert_exercised(&capture, &server);
}

#[tokio::test]
async fn bb8_pooled_connection() {
    let capture = capture();
    let server = RedisServer::start();
    let client = server.client();
    let pool = bb8::Pool::builder()
        .max_size(2)
        .build(client.clone())
        .await
        .unwrap();
    // Pool checks (PING on checkout) go through the untraced connection; only our commands show.
    let mut conn = TracedConnection::new(Pooled(pool.get().await.unwrap())).with_endpoint(&client);
    exercise(&mut conn).await;
    assert_exercised(&capture, &server);
}

#[test]
fn sync_connection() {
    let capture = capture();
    let server = RedisServer::start();
    let client = server.client();
    let mut conn = TracedConnection::new(client.get_connection().unwrap()).with_endpoint(&client);
    let _: () = redis::Commands::set_ex(&mut conn, "user:1", "secret-value", 60).unwrap();
    let value: Option<String> = redis::Commands::get(&mut conn, "user:1").unwrap();
    assert_eq!(value.as_deref(), Some("secret-value"));
    let missing: Option<String> = redis::Commands::get(&mut conn, "user:404").unwrap();
    assert_eq!(missing, None);
    let lock = redis::SetOptions::default().conditional_set(redis::ExistenceCheck::NX);
    let taken: bool = redis::Commands::set_options(&mut conn, "user:1", "other", lock).unwrap();
    assert!(!taken, "user:1 exists: SET NX does not apply");
    let values: Vec<Option<String>> =
        redis::Commands::mget(&mut conn, &["user:1", "user:404", "user:1"]).unwrap();
    assert_eq!(values.iter().flatten().count(), 2);
    let _: () = redis::Commands::hset(&mut conn, "profile:1", "email", "ada@example.com").unwrap();
    let error = redis::Commands::incr::<_, _, i64>(&mut conn, "user:1", 1).unwrap_err();
    assert_eq!(error.code(), Some("ERR"));
    assert_exercised(&capture, &server);
}

struct Repo {
    conn: TracedConnection<redis::aio::MultiplexedConnection>,
}

impl Repo {
    #[redis_traced(op = "MGET", keys = [first, second], name = "load pair")]
    async fn pair(
        &self,
        first: &str,
        second: &str,
    ) -> redis::RedisResult<(Option<String>, Option<String>)> {
        let mut conn = self.conn.clone();
        let a: Option<String> = conn.get(first).await?;
        let b: Option<String> = conn.get(second).await?;
        Ok((a, b))
    }
}

/// `OPERATIONxCOUNT` for each duration histogram point so far.
fn recorded_durations(capture: &support::Capture) -> Vec<String> {
    capture
        .metric_points("db.client.operation.duration")
        .iter()
        .map(|point| {
            format!(
                "{}x{}",
                point.attributes["db.operation.name"].as_str(),
                point.value
            )
        })
        .collect()
}

#[tokio::test]
async fn command_spans_nest_under_the_attribute_and_metrics_count_once() {
    let capture = capture();
    let server = RedisServer::start();
    let client = server.client();
    let repo = Repo {
        conn: TracedConnection::new(server.connection(0).await).with_endpoint(&client),
    };
    repo.pair("a:1", "b:2").await.unwrap();
    let parent = capture.span("load pair");
    let gets: Vec<_> = capture
        .spans()
        .into_iter()
        .filter(|s| s.name.starts_with("GET "))
        .collect();
    assert_eq!(gets.len(), 2);
    for get in &gets {
        assert_eq!(get.parent_span_id, parent.span_context.span_id());
        assert_eq!(get.span_context.trace_id(), parent.span_context.trace_id());
    }
    // One histogram point: the annotated function's. Its commands are not counted again.
    assert_eq!(recorded_durations(&capture), ["MGETx1"]);

    // Outside an annotated function, each command records its own duration.
    let mut conn = repo.conn.clone();
    let _: Option<String> = conn.get("a:1").await.unwrap();
    assert_eq!(recorded_durations(&capture), ["GETx1", "MGETx1"]);
}

#[tokio::test]
async fn a_thousand_command_pipeline_is_one_span() {
    let capture = capture();
    let server = RedisServer::start();
    let client = server.client();
    let mut conn = TracedConnection::new(server.connection(0).await).with_endpoint(&client);
    let mut pipeline = redis::pipe();
    for i in 0..1000 {
        pipeline
            .set(format!("item:{i}"), format!("value-{i}"))
            .ignore();
    }
    let _: () = pipeline.query_async(&mut conn).await.unwrap();
    let stored: Option<String> = conn.get("item:999").await.unwrap();
    assert_eq!(stored.as_deref(), Some("value-999"));

    let spans = capture.spans();
    assert_eq!(spans.len(), 2, "one pipeline span and the GET");
    let pipeline_span = &spans[0];
    assert_eq!(
        pipeline_span.name,
        format!("PIPELINE SET 127.0.0.1:{}", server.port())
    );
    let recorded = attributes(pipeline_span);
    assert_eq!(
        recorded["db.operation.name"],
        Value::from("PIPELINE SET".to_owned())
    );
    assert_eq!(recorded["db.operation.batch.size"], Value::I64(1000));
    let text = recorded["db.query.text"].as_str().into_owned();
    assert!(text.starts_with("SET item:? ?; SET item:? ?; "), "{text}");
    assert!(text.len() <= 2048, "statement capped: {}", text.len());
    assert!(!text.contains("value-"));
}

#[tokio::test]
async fn transactions_and_mixed_pipelines() {
    let capture = capture();
    let server = RedisServer::start();
    let client = server.client();
    let mut conn = TracedConnection::new(server.connection(0).await).with_endpoint(&client);

    let (count,): (i64,) = redis::pipe()
        .atomic()
        .set("counter", 1)
        .ignore()
        .incr("counter", 41)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(count, 42);
    let (a, b): (Option<String>, i64) = redis::pipe()
        .get("missing")
        .exists("counter")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!((a, b), (None, 1));
    let (first, second): (Option<String>, Option<String>) = redis::pipe()
        .get("user:1")
        .get("user:2")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!((first, second), (None, None));

    let spans = capture.spans();
    let transaction = attributes(&spans[0]);
    assert_eq!(
        transaction["db.operation.name"],
        Value::from("MULTI".to_owned())
    );
    assert_eq!(transaction["db.operation.batch.size"], Value::I64(2));
    assert_eq!(
        transaction["db.query.text"],
        Value::from("SET counter ?; INCRBY counter ?".to_owned())
    );
    let mixed = attributes(&spans[1]);
    assert_eq!(
        mixed["db.operation.name"],
        Value::from("PIPELINE".to_owned())
    );
    assert_eq!(
        mixed["db.query.text"],
        Value::from("GET missing; EXISTS counter".to_owned())
    );
    // The same statement for every command: said once, as the conventions ask of a batch.
    let same = attributes(&spans[2]);
    assert_eq!(same["db.query.text"], Value::from("GET user:?".to_owned()));
    assert_eq!(same["db.operation.batch.size"], Value::I64(2));
}

#[test]
fn watch_retry_transaction_on_a_sync_connection() {
    let capture = capture();
    let server = RedisServer::start();
    let client = server.client();
    let mut conn = TracedConnection::new(client.get_connection().unwrap()).with_endpoint(&client);
    let mut intruder = client.get_connection().unwrap();
    let _: () = redis::Commands::set(&mut conn, "balance", 10).unwrap();
    capture.clear();

    let mut attempts = 0;
    let (balance,): (i64,) = redis::transaction(&mut conn, &["balance"], |conn, pipe| {
        attempts += 1;
        let current: i64 = redis::Commands::get(conn, "balance")?;
        if attempts == 1 {
            // Another client changes the watched key: EXEC answers nil and the loop retries.
            let _: () = redis::Commands::set(&mut intruder, "balance", 100).unwrap();
        }
        pipe.set("balance", current + 1)
            .ignore()
            .get("balance")
            .query(conn)
    })
    .unwrap();
    assert_eq!((attempts, balance), (2, 101));

    let operations: Vec<String> = capture
        .spans()
        .iter()
        .map(|span| attributes(span)["db.operation.name"].as_str().into_owned())
        .collect();
    assert_eq!(
        operations,
        ["WATCH", "GET", "MULTI", "WATCH", "GET", "MULTI", "UNWATCH"]
    );
    let multi = attributes(&capture.spans()[2]);
    assert_eq!(
        multi["db.query.text"],
        Value::from("SET balance ?; GET balance".to_owned())
    );
    assert_eq!(multi["db.operation.batch.size"], Value::I64(2));
}

#[tokio::test]
async fn pipeline_command_spans_are_opt_in() {
    let capture = capture();
    let server = RedisServer::start();
    let client = server.client();
    Config::builder()
        .with_pipeline_command_spans(true)
        .install();
    let mut conn = TracedConnection::new(server.connection(0).await).with_endpoint(&client);
    let _: () = redis::pipe()
        .set("a", 1)
        .ignore()
        .get("a")
        .ignore()
        .query_async(&mut conn)
        .await
        .unwrap();
    let spans = capture.spans();
    let pipeline = spans
        .iter()
        .find(|s| s.name.starts_with("PIPELINE"))
        .unwrap();
    let children: Vec<_> = spans
        .iter()
        .filter(|s| s.parent_span_id == pipeline.span_context.span_id())
        .collect();
    let names: Vec<&str> = children.iter().map(|s| s.name.as_ref()).collect();
    assert_eq!(names, ["SET", "GET"]);
    assert_eq!(
        attributes(children[0])["db.query.text"],
        Value::from("SET a ?".to_owned())
    );
}

/// After a slot moves to another master, spans for its keys name the new master as their peer
/// (`network.peer.port`) once the slot map is read again (here after 100 ms; a `MOVED` that
/// redis-rs follows is not seen).
#[tokio::test]
async fn cluster_spans_follow_a_migrated_slot() {
    let capture = capture();
    let cluster = RedisCluster::start(3);
    let client = redis::cluster::ClusterClient::new(cluster.urls()).unwrap();
    let seeds: Vec<redis::ConnectionInfo> = (cluster.urls().iter())
        .map(|url| url.parse().unwrap())
        .collect();
    let mut conn = TracedConnection::new(client.get_async_connection().await.unwrap())
        .with_endpoint(Endpoint::nodes(&seeds))
        .with_cluster_refresh(std::time::Duration::from_millis(100));
    let seed_list: Vec<String> = (cluster.nodes().iter())
        .map(|node| format!("127.0.0.1:{}", node.port()))
        .collect();
    let seed_list = Value::from(seed_list.join(","));
    let key = "user:0";
    let slot = key_slot(&cluster, key);
    let before = cluster.port_for_slot(slot);
    let _: Option<String> = conn.get(key).await.unwrap();
    let port =
        |span: &opentelemetry_sdk::trace::SpanData| attributes(span)["network.peer.port"].clone();
    assert_eq!(port(&capture.spans()[0]), Value::I64(before.into()));

    let to = (0..3)
        .find(|&i| cluster.nodes()[i].port() != before)
        .unwrap();
    cluster.move_slot(slot, to);
    let after = cluster.nodes()[to].port();
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    capture.clear();
    // The first command after the interval still names the old master, then the map is read.
    let _: Option<String> = conn.get(key).await.unwrap();
    let _: Option<String> = conn.get(key).await.unwrap();
    let spans = capture.spans();
    assert_eq!(
        port(&spans[0]),
        Value::I64(before.into()),
        "before the refresh"
    );
    assert_eq!(
        port(&spans[1]),
        Value::I64(after.into()),
        "after the refresh"
    );
    // The target stays the seed list; the duration metric follows the slot to its new master.
    for span in &spans {
        assert_eq!(attributes(span)["server.address"], seed_list);
    }
    let gets = capture.metric_points("db.client.operation.duration");
    let gets: Vec<_> = (gets.iter())
        .filter(|point| point.attributes["db.operation.name"] == Value::from("GET"))
        .collect();
    assert!(gets
        .iter()
        .all(|point| point.attributes["server.address"] == seed_list));
    let peers: std::collections::BTreeSet<String> = (gets.iter())
        .map(|point| point.attributes["network.peer.port"].to_string())
        .collect();
    assert_eq!(
        peers,
        [before.to_string(), after.to_string()]
            .into_iter()
            .collect(),
        "a GET series for the old master and one for the new"
    );
    // The server really moved it: asking the old master is redirected.
    let old = cluster
        .nodes()
        .iter()
        .find(|n| n.port() == before)
        .unwrap()
        .client();
    let moved = redis::cmd("GET")
        .arg(key)
        .query::<Option<String>>(&mut old.get_connection().unwrap())
        .unwrap_err();
    assert_eq!(moved.code(), Some("MOVED"));
}

fn key_slot(cluster: &RedisCluster, key: &str) -> u16 {
    let mut node = cluster.nodes()[0].client().get_connection().unwrap();
    let slot: i64 = redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(key)
        .query(&mut node)
        .unwrap();
    u16::try_from(slot).unwrap()
}

#[tokio::test]
async fn redis_cluster_spans_carry_the_hash_slot() {
    let capture = capture();
    let cluster = RedisCluster::start(3);
    let client = redis::cluster::ClusterClient::new(cluster.urls()).unwrap();
    let seeds: Vec<redis::ConnectionInfo> = (cluster.urls().iter())
        .map(|url| url.parse().unwrap())
        .collect();
    let mut conn = TracedConnection::new(client.get_async_connection().await.unwrap())
        .with_endpoint(Endpoint::nodes(&seeds))
        .for_cluster();
    let seed_list: Vec<String> = (cluster.nodes().iter())
        .map(|node| format!("127.0.0.1:{}", node.port()))
        .collect();
    let seed_list = seed_list.join(",");

    let keys: Vec<String> = (0..30).map(|i| format!("user:{i}")).collect();
    for key in &keys {
        let _: () = conn.set(key, "v").await.unwrap();
    }
    // The keys really spread over every master, and each span names the one that owns it.
    let mut ports = std::collections::BTreeSet::new();
    let mut keys_per_master = std::collections::BTreeMap::<String, u64>::new();
    for (key, span) in keys.iter().zip(capture.spans()) {
        let mut node = cluster.nodes()[0].client().get_connection().unwrap();
        let slot: i64 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut node)
            .unwrap();
        let recorded = attributes(&span);
        assert_eq!(recorded["redis.cluster.slot"], Value::I64(slot), "{key}");
        let port = cluster.port_for_slot(u16::try_from(slot).unwrap());
        // The configured target in server.*, the master that served it in network.peer.*.
        assert_eq!(
            recorded["server.address"],
            Value::from(seed_list.clone()),
            "{key}"
        );
        assert!(
            !recorded.contains_key("server.port"),
            "{key}: a list has no port"
        );
        assert_eq!(
            recorded["network.peer.port"],
            Value::I64(port.into()),
            "{key}"
        );
        assert_eq!(recorded["network.peer.address"], Value::from("127.0.0.1"));
        assert_eq!(span.name, format!("SET {seed_list}"));
        ports.insert(port);
        *keys_per_master.entry(port.to_string()).or_default() += 1;
    }
    assert_eq!(ports.len(), 3, "keys on every master");
    // The duration metric groups by the same target and peer: each master's series counts
    // exactly the keys it owns.
    let sets_per_master: std::collections::BTreeMap<String, u64> =
        (capture.metric_points("db.client.operation.duration").iter())
            .filter(|point| point.attributes["db.operation.name"] == Value::from("SET"))
            .map(|point| {
                assert_eq!(
                    point.attributes["server.address"],
                    Value::from(seed_list.clone())
                );
                assert!(!point.attributes.contains_key("server.port"));
                assert_eq!(
                    point.attributes["network.peer.address"],
                    Value::from("127.0.0.1")
                );
                (
                    point.attributes["network.peer.port"].to_string(),
                    point.value,
                )
            })
            .collect();
    assert_eq!(sets_per_master, keys_per_master, "SET points by master");
    // Lookups count their hits under the master that served them, each its own tally.
    for key in &keys {
        let _: Option<String> = conn.get(key).await.unwrap();
    }
    for span in capture
        .spans()
        .iter()
        .filter(|span| span.name.starts_with("GET"))
    {
        let recorded = attributes(span);
        assert_eq!(recorded["server.address"], Value::from(seed_list.clone()));
        let Value::I64(slot) = recorded["redis.cluster.slot"] else {
            panic!("a GET without its slot: {recorded:?}")
        };
        let slot = u16::try_from(slot).unwrap();
        let owner = cluster.port_for_slot(slot);
        assert_eq!(
            recorded["network.peer.port"],
            Value::I64(owner.into()),
            "GET's peer"
        );
    }
    let hits: std::collections::BTreeMap<String, u64> =
        (capture.metric_points("redis_trace.cache.requests").iter())
            .map(|point| {
                assert_eq!(
                    point.attributes["server.address"],
                    Value::from(seed_list.clone())
                );
                (
                    point.attributes["network.peer.port"].to_string(),
                    point.value,
                )
            })
            .fold(Default::default(), |mut hits, (peer, value)| {
                *hits.entry(peer).or_default() += value;
                hits
            });
    assert_eq!(hits, keys_per_master, "hits by master");

    // Keys of different slots in one command: the server refuses with CROSSSLOT.
    capture.clear();
    let error = redis::cmd("RENAME")
        .arg("user:1")
        .arg("user:2")
        .query_async::<()>(&mut conn)
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("CROSSSLOT"), "{error:?}");
    let span = &capture.spans()[0];
    let recorded = attributes(span);
    assert_eq!(recorded["error.type"], Value::from("CROSSSLOT".to_owned()));
    assert_eq!(
        recorded["db.response.status_code"],
        Value::from("CROSSSLOT".to_owned())
    );
    assert!(
        !recorded.contains_key("redis.cluster.slot"),
        "keys in different slots: no single slot"
    );

    // Hash tags keep keys in one slot.
    let _: () = conn
        .mset(&[("{user:7}:name", "a"), ("{user:7}:mail", "b")])
        .await
        .unwrap();
    let span = capture.spans().last().cloned().unwrap();
    let mut node = cluster.nodes()[0].client().get_connection().unwrap();
    let slot: i64 = redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg("user:7")
        .query(&mut node)
        .unwrap();
    assert_eq!(attributes(&span)["redis.cluster.slot"], Value::I64(slot));
}

/// 32 concurrent first calls on a new cluster connection: they share the first read of the
/// slot map, and every span names the master that served it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_cluster_calls_all_name_their_node() {
    let capture = capture();
    let cluster = RedisCluster::start(3);
    let client = redis::cluster::ClusterClient::new(cluster.urls()).unwrap();
    let conn = TracedConnection::new(client.get_async_connection().await.unwrap()).for_cluster();
    let calls: Vec<_> = (0..32)
        .map(|i| {
            let mut conn = conn.clone();
            tokio::spawn(async move {
                let _: () = conn.set(format!("first:{i}"), i).await.unwrap();
            })
        })
        .collect();
    for call in calls {
        call.await.unwrap();
    }
    let spans = capture.spans();
    assert_eq!(spans.len(), 32);
    for span in &spans {
        let Value::I64(slot) = attributes(span)["redis.cluster.slot"] else {
            panic!("a slot: {span:?}");
        };
        let port = cluster.port_for_slot(u16::try_from(slot).unwrap());
        assert_eq!(
            attributes(span).get("network.peer.port"),
            Some(&Value::I64(port.into())),
            "{span:?}"
        );
    }
}

/// A slot-map read whose caller is dropped mid-read (every node paused) leaves the map able to
/// be read again: the next calls name their node, and a slot moved afterwards is followed
/// within the unsettled re-read period (250 ms), not after the 30 s interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_slot_map_read_does_not_stop_later_reads() {
    let capture = capture();
    let cluster = RedisCluster::start(3);
    let client = redis::cluster::ClusterClient::new(cluster.urls()).unwrap();
    let mut conn =
        TracedConnection::new(client.get_async_connection().await.unwrap()).for_cluster();
    let pause = |ms: u64| {
        for node in cluster.nodes() {
            let mut admin = node.client().get_connection().unwrap();
            redis::cmd("CLIENT")
                .arg("PAUSE")
                .arg(ms)
                .arg("ALL")
                .exec(&mut admin)
                .unwrap();
        }
    };
    // The first call reads the map; every node is paused, the caller gives up mid-read.
    pause(600);
    let cut = tokio::time::timeout(
        std::time::Duration::from_millis(100),
        conn.get::<_, Option<String>>("user:0"),
    )
    .await;
    assert!(cut.is_err(), "the call was cut short");
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    capture.clear();

    let key = "user:0";
    let slot = key_slot(&cluster, key);
    let before = cluster.port_for_slot(slot);
    let _: Option<String> = conn.get(key).await.unwrap();
    let port = |span: &opentelemetry_sdk::trace::SpanData| {
        attributes(span).get("network.peer.port").cloned()
    };
    assert_eq!(port(&capture.spans()[0]), Some(Value::I64(before.into())));

    let to = (0..3)
        .find(|&i| cluster.nodes()[i].port() != before)
        .unwrap();
    cluster.move_slot(slot, to);
    let after = cluster.nodes()[to].port();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    capture.clear();
    let _: Option<String> = conn.get(key).await.unwrap(); // reads the map after its span
    let _: Option<String> = conn.get(key).await.unwrap();
    let spans = capture.spans();
    assert_eq!(port(&spans[1]), Some(Value::I64(after.into())), "followed");
}
