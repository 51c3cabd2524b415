//! Reliability through a failover, under load: a real Redis Cluster (3 masters, 3 replicas)
//! whose master is SIGKILLed while 32 tasks run SET/GET through one traced connection, and a
//! real Sentinel set-up whose master is SIGKILLed likewise. Each prints its figures (calls,
//! spans, failed calls by kind, time to the first success, spans naming the dead node after
//! the promotion, spans without a node) and checks the bounds the guide documents. `#[ignore]`d
//! (tens of seconds each); CI runs them with the reliability harness:
//! `cargo test --test reliability_failover -- --ignored --test-threads=1 --nocapture`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use opentelemetry::trace::Status;
use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, Span, SpanData, SpanProcessor};
use redis::AsyncCommands;
use redis_trace::{Endpoint, TracedConnection, TracedSentinelClient};
use redis_trace_harness::{RedisCluster, RedisSentinel, MASTER_NAME};

const TASKS: usize = 32;
const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// The bound the guide documents: after the promotion, no successful span names the dead
/// master later than this.
const STALE_BOUND: Duration = Duration::from_secs(2);

fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "reliability: {line}");
}

/// What the spans said: counted as they end, no span kept.
#[derive(Debug, Default, Clone)]
struct NodeTally(Arc<Tallied>);

#[derive(Debug, Default)]
struct Tallied {
    ended: AtomicU64,
    without_node: AtomicU64,
    /// Successful spans: (`network.peer.port`, end time).
    successes: Mutex<Vec<(u16, SystemTime)>>,
    errors: Mutex<BTreeMap<String, u64>>,
}

impl SpanProcessor for NodeTally {
    fn on_start(&self, _: &mut Span, _: &Context) {}

    fn on_end(&self, span: SpanData) {
        self.0.ended.fetch_add(1, Ordering::Relaxed);
        let find = |key: &str| span.attributes.iter().find(|kv| kv.key.as_str() == key);
        let port = find("network.peer.port").and_then(|kv| match kv.value {
            opentelemetry::Value::I64(port) => u16::try_from(port).ok(),
            _ => None,
        });
        if port.is_none() {
            self.0.without_node.fetch_add(1, Ordering::Relaxed);
        }
        match (find("error.type"), port) {
            (Some(error), _) => {
                let mut errors = self.0.errors.lock().unwrap_or_else(PoisonError::into_inner);
                *errors.entry(error.value.to_string()).or_default() += 1;
            }
            (None, Some(port)) if span.status != Status::error("") => {
                let mut successes =
                    (self.0.successes.lock()).unwrap_or_else(PoisonError::into_inner);
                successes.push((port, span.end_time));
            }
            (None, _) => {}
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _: Duration) -> OTelSdkResult {
        Ok(())
    }
}

impl NodeTally {
    fn install() -> (Self, SdkTracerProvider) {
        let tally = Self::default();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(tally.clone())
            .build();
        redis_trace::use_tracer_provider(&provider);
        (tally, provider)
    }

    /// Successful spans naming `port` that ended after `promoted`, and the latest of them.
    fn stale_after(&self, port: u16, promoted: SystemTime) -> (u64, Duration) {
        let successes = (self.0.successes.lock()).unwrap_or_else(PoisonError::into_inner);
        let late: Vec<Duration> = (successes.iter())
            .filter(|(named, _)| *named == port)
            .filter_map(|(_, ended)| ended.duration_since(promoted).ok())
            .collect();
        (
            late.len() as u64,
            late.into_iter().max().unwrap_or_default(),
        )
    }

    fn successes_naming(&self, port: u16) -> u64 {
        let successes = (self.0.successes.lock()).unwrap_or_else(PoisonError::into_inner);
        successes.iter().filter(|(named, _)| *named == port).count() as u64
    }

    fn errors(&self) -> BTreeMap<String, u64> {
        (self.0.errors.lock())
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// What the callers saw.
#[derive(Debug)]
struct Calls {
    ok: AtomicU64,
    failed: AtomicU64,
    timed_out: AtomicU64,
    /// Milliseconds after `killed` of the first success on a key the dead master owned.
    first_success_after_kill: AtomicU64,
}

impl Calls {
    fn new() -> Self {
        Self {
            ok: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            timed_out: AtomicU64::new(0),
            first_success_after_kill: AtomicU64::new(u64::MAX),
        }
    }

    /// `{ok} ok, {failed} failed, {timed out} cut by the 2 s timeout`.
    fn outcomes(&self) -> String {
        format!(
            "{} ok, {} failed, {} cut by the 2 s timeout",
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.timed_out.load(Ordering::Relaxed),
        )
    }

    fn total(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
            + self.failed.load(Ordering::Relaxed)
            + self.timed_out.load(Ordering::Relaxed)
    }

    fn record<T>(&self, outcome: &Result<redis::RedisResult<T>, tokio::time::error::Elapsed>) {
        let counter = match outcome {
            Ok(Ok(_)) => &self.ok,
            Ok(Err(_)) => &self.failed,
            Err(_) => &self.timed_out,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Tells the workers to stop and waits for them.
async fn stop_all(stop: &AtomicBool, workers: Vec<tokio::task::JoinHandle<()>>) {
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.unwrap();
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Waits (polling every 20 ms) until `ready`, for up to 60 s; the time it became true.
fn wait_until(what: &str, ready: impl Fn() -> bool) -> (Instant, SystemTime) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "waited 60 s for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
    (Instant::now(), SystemTime::now())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "reliability harness: a cluster failover under load; run with --ignored (CI does)"]
async fn cluster_master_killed_under_load() {
    let mut cluster = RedisCluster::start_with_replicas(3, 2000);
    let (tally, provider) = NodeTally::install();
    let client = redis::cluster::ClusterClient::new(cluster.urls()).unwrap();
    let seeds: Vec<redis::ConnectionInfo> = (cluster.urls().iter())
        .map(|url| url.parse().unwrap())
        .collect();
    let conn = TracedConnection::new(client.get_async_connection().await.unwrap())
        .with_endpoint(Endpoint::nodes(&seeds))
        .for_cluster();
    // The keys, and which of them the master about to die owns (slot 0's master).
    let dead = cluster.nodes()[0].port();
    let keys: Vec<(String, bool)> = {
        let mut node = cluster.nodes()[1].client().get_connection().unwrap();
        (0..1000)
            .map(|i| {
                let key = format!("item:{i}");
                let slot: u16 = redis::cmd("CLUSTER")
                    .arg("KEYSLOT")
                    .arg(&key)
                    .query(&mut node)
                    .unwrap();
                let on_dead = cluster.port_for_slot(slot) == dead;
                (key, on_dead)
            })
            .collect()
    };
    let keys = Arc::new(keys);
    let calls = Arc::new(Calls::new());
    let stop = Arc::new(AtomicBool::new(false));
    let killed_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    let workers: Vec<_> = (0..TASKS)
        .map(|task| {
            let (mut conn, keys, calls, stop, killed_at) = (
                conn.clone(),
                Arc::clone(&keys),
                Arc::clone(&calls),
                Arc::clone(&stop),
                Arc::clone(&killed_at),
            );
            tokio::spawn(async move {
                let mut i = task;
                while !stop.load(Ordering::Relaxed) {
                    let (key, on_dead) = &keys[i % keys.len()];
                    let started = Instant::now();
                    let outcome = if i % 2 == 0 {
                        tokio::time::timeout(CALL_TIMEOUT, conn.set::<_, _, ()>(key, i)).await
                    } else {
                        tokio::time::timeout(CALL_TIMEOUT, conn.get::<_, Option<i64>>(key))
                            .await
                            .map(|result| result.map(|_| ()))
                    };
                    calls.record(&outcome);
                    let killed = *killed_at.lock().unwrap_or_else(PoisonError::into_inner);
                    // A call sent after the kill to a key the dead master owned.
                    let after_kill = killed.filter(|killed| started > *killed);
                    if let (Ok(Ok(())), true, Some(killed)) = (&outcome, on_dead, after_kill) {
                        calls
                            .first_success_after_kill
                            .fetch_min(millis(killed.elapsed()), Ordering::Relaxed);
                    }
                    if outcome.is_err() || matches!(outcome, Ok(Err(_))) {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    i += TASKS;
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = calls.total();
    cluster.kill_master(0);
    let killed = Instant::now();
    *killed_at.lock().unwrap() = Some(killed);
    let survivor = &cluster.nodes()[1];
    let (promoted, promoted_wall) = tokio::task::block_in_place(|| {
        wait_until("the replica's promotion", || {
            cluster
                .owner_of(0, survivor)
                .is_some_and(|port| port != dead)
        })
    });
    let new_master = cluster.owner_of(0, survivor).unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop_all(&stop, workers).await;
    provider.force_flush().ok();

    let total = calls.total();
    let ended = tally.0.ended.load(Ordering::Relaxed);
    let without_node = tally.0.without_node.load(Ordering::Relaxed);
    let (stale, latest_stale) = tally.stale_after(dead, promoted_wall);
    let first = calls.first_success_after_kill.load(Ordering::Relaxed);
    report(&format!(
        "cluster failover: {total} calls ({before} before the kill), {ended} spans; {}; span errors by error.type {:?}; promotion {:.1} s after the kill; first success on the dead master's slots {:.1} s after the kill; successful spans naming the dead master after the promotion: {stale} (the last {} ms after it); spans naming the new master {}; spans without a node {without_node}",
        calls.outcomes(),
        tally.errors(),
        (promoted - killed).as_secs_f64(),
        first as f64 / 1000.0,
        latest_stale.as_millis(),
        tally.successes_naming(new_master),
    ));
    assert_eq!(ended, total, "every call exactly one span");
    assert_eq!(without_node, 0, "no span without its node");
    assert!(
        latest_stale <= STALE_BOUND,
        "a successful span named the dead master {latest_stale:?} after the promotion"
    );
    assert!(
        first < u64::MAX,
        "the dead master's slots were served again"
    );
    assert!(tally.successes_naming(new_master) > 0);
    let _ = provider.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "reliability harness: a Sentinel failover under load; run with --ignored (CI does)"]
async fn sentinel_master_killed_under_load() {
    let mut set_up = RedisSentinel::start();
    let (tally, provider) = NodeTally::install();
    let sentinel_url: redis::ConnectionInfo = set_up.sentinel_url().parse().unwrap();
    let sentinel = redis::sentinel::SentinelClient::build(
        vec![set_up.sentinel_url()],
        MASTER_NAME.to_owned(),
        None,
        redis::sentinel::SentinelServerType::Master,
    )
    .unwrap();
    let mut sentinel = TracedSentinelClient::new(sentinel)
        .with_endpoint(Endpoint::sentinels([sentinel_url], MASTER_NAME));
    let first = sentinel.get_async_connection().await.unwrap();
    let sentinel = Arc::new(tokio::sync::Mutex::new(sentinel));
    let current = Arc::new(tokio::sync::RwLock::new(first));
    let (old, new) = (set_up.master_port(), set_up.replica_port());
    let calls = Arc::new(Calls::new());
    let stop = Arc::new(AtomicBool::new(false));
    let killed_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    let workers: Vec<_> = (0..TASKS)
        .map(|task| {
            let (sentinel, current, calls, stop, killed_at) = (
                Arc::clone(&sentinel),
                Arc::clone(&current),
                Arc::clone(&calls),
                Arc::clone(&stop),
                Arc::clone(&killed_at),
            );
            tokio::spawn(async move {
                let mut i = task;
                while !stop.load(Ordering::Relaxed) {
                    let mut conn = current.read().await.clone();
                    let started = Instant::now();
                    let key = format!("item:{}", i % 1000);
                    let outcome =
                        tokio::time::timeout(CALL_TIMEOUT, conn.set::<_, _, ()>(&key, i)).await;
                    calls.record(&outcome);
                    let killed = *killed_at.lock().unwrap_or_else(PoisonError::into_inner);
                    match (&outcome, killed.filter(|killed| started > *killed)) {
                        (Ok(Ok(())), Some(killed)) => {
                            calls
                                .first_success_after_kill
                                .fetch_min(millis(killed.elapsed()), Ordering::Relaxed);
                        }
                        (Ok(Ok(())), None) => {}
                        _ => {
                            // Ask the Sentinel for the master again (one task at a time).
                            if let Ok(mut sentinel) = sentinel.try_lock() {
                                let asked = tokio::time::timeout(
                                    Duration::from_secs(1),
                                    sentinel.get_async_connection(),
                                )
                                .await;
                                if let Ok(Ok(fresh)) = asked {
                                    *current.write().await = fresh;
                                }
                            }
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                    i += TASKS;
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = calls.total();
    set_up.kill_master();
    let killed = Instant::now();
    *killed_at.lock().unwrap() = Some(killed);
    let (promoted, promoted_wall) = tokio::task::block_in_place(|| {
        wait_until("the Sentinel's failover", || {
            set_up.named_master_port() == Some(new)
        })
    });
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop_all(&stop, workers).await;
    provider.force_flush().ok();

    let total = calls.total();
    let ended = tally.0.ended.load(Ordering::Relaxed);
    let without_node = tally.0.without_node.load(Ordering::Relaxed);
    let (stale, latest_stale) = tally.stale_after(old, promoted_wall);
    let first = calls.first_success_after_kill.load(Ordering::Relaxed);
    report(&format!(
        "Sentinel failover: {total} calls ({before} before the kill), {ended} spans; {}; span errors by error.type {:?}; failover {:.1} s after the kill; first success {:.1} s after the kill; successful spans naming the old master {} (after the failover: {stale}, the last {} ms after it), naming the new one {}; spans without a node {without_node}",
        calls.outcomes(),
        tally.errors(),
        (promoted - killed).as_secs_f64(),
        first as f64 / 1000.0,
        tally.successes_naming(old),
        latest_stale.as_millis(),
        tally.successes_naming(new),
    ));
    // Connection spans only: the connects the Sentinel client makes are not spans here.
    assert_eq!(ended, total, "every call exactly one span");
    assert_eq!(without_node, 0, "no span without its node");
    assert_eq!(
        stale, 0,
        "no success names the old master after the failover"
    );
    assert!(tally.successes_naming(old) > 0 && tally.successes_naming(new) > 0);
    assert!(first < u64::MAX, "calls succeed after the failover");
    let _ = provider.shutdown();
}
