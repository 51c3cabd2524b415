//! Reliability: telemetry never blocks a call or changes its result, and a harness that reports
//! figures under load, a Redis killed mid-run, a collector that is down or silent, and a storm
//! of cancellations. The harness tests are `#[ignore]`d (minutes of work); CI runs them with
//! `cargo test --test reliability -- --ignored --nocapture` and they print their figures.
//! `RELIABILITY_CALLS` sets the load test's call count (default 1,000,000).

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
use redis::AsyncCommands;
use redis_trace::redis_traced;
use redis_trace_harness::counting::{CountingProcessor, TestExporter};
use redis_trace_harness::otlp::{refusing_endpoint, OtlpReceiver, SilentCollector};
use redis_trace_harness::RedisServer;

#[redis_traced(op = "GET", key = "item:{id}", name = "compute")]
fn compute(id: u64) -> Result<u64, std::io::Error> {
    Ok(id * 3)
}

/// A span exporter that blocks every export (and then fails it) must not delay a call beyond
/// the batch processor's hand-off, nor change its result: every call below returns while the
/// exporter is still blocked, and the spans that do not fit the queue are dropped, not waited
/// for. No clock is involved: if a call waited for the exporter, the test would never end.
#[test]
fn a_blocked_failing_exporter_never_blocks_a_call_or_changes_its_result() {
    let exporter = TestExporter::blocked_and_failing();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter.clone())
        .build();
    redis_trace::use_tracer_provider(&provider);
    for id in 0..10_000 {
        assert_eq!(compute(id).unwrap(), id * 3);
    }
    assert!(exporter.exported() == 0, "the exporter is still blocked");
    exporter.release();
    provider.force_flush().ok();
    let exported = exporter.exported();
    assert!(
        exported < 10_000,
        "the queue overflowed and dropped, {exported} exported"
    );
    let _ = provider.shutdown();
}

struct Items {
    conn: redis::aio::ConnectionManager,
}

impl Items {
    #[redis_traced(op = "GET", key = "item:{id}", name = "load item")]
    async fn load(&self, id: u64) -> redis::RedisResult<Option<String>> {
        self.conn.clone().get(format!("item:{id}")).await
    }
}

fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "reliability: {line}");
}

/// Starts a new peak-RSS measurement (`VmHWM` is reset by writing 5 to `clear_refs`), so each
/// scenario reports its own peak even when they share a process.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident set size of this process since the last reset, in MiB (`VmHWM`).
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = (status.lines())
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn counted_provider(exporter: TestExporter) -> (SdkTracerProvider, CountingProcessor) {
    let counting = CountingProcessor::default();
    let batch = BatchSpanProcessor::builder(exporter)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(1 << 16)
                .build(),
        )
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(counting.clone())
        .with_span_processor(batch)
        .build();
    redis_trace::use_tracer_provider(&provider);
    (provider, counting)
}

async fn manager(server: &RedisServer) -> Items {
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_response_timeout(Some(Duration::from_secs(1)))
        .set_connection_timeout(Some(Duration::from_millis(500)))
        .set_number_of_retries(1);
    let conn = redis::aio::ConnectionManager::new_with_config(server.client(), config)
        .await
        .unwrap();
    Items { conn }
}

/// `calls` traced GETs, `concurrency` at a time, each under a 5 s timeout; (ok, errors, hung).
async fn run(items: &Arc<Items>, calls: u64, concurrency: u64) -> (u64, u64, u64) {
    let next = Arc::new(AtomicU64::new(0));
    let outcome = Arc::new([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)]);
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (items, next, outcome) =
                (Arc::clone(items), Arc::clone(&next), Arc::clone(&outcome));
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < calls {
                    let id = next.load(Ordering::Relaxed) % 1000;
                    let index =
                        match tokio::time::timeout(Duration::from_secs(5), items.load(id)).await {
                            Ok(Ok(_)) => 0,
                            Ok(Err(_)) => 1,
                            Err(_) => 2,
                        };
                    outcome[index].fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let [ok, errors, hung] = &*outcome;
    (
        ok.load(Ordering::Relaxed),
        errors.load(Ordering::Relaxed),
        hung.load(Ordering::Relaxed),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "reliability harness: minutes of load; run with --ignored (CI does)"]
async fn load_every_span_ends_and_is_exported_or_dropped() {
    reset_peak_rss();
    let calls: u64 = std::env::var("RELIABILITY_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let server = RedisServer::start();
    let items = Arc::new(manager(&server).await);
    let exporter = TestExporter::default();
    let (provider, counting) = counted_provider(exporter.clone());
    let started = Instant::now();
    let (ok, errors, hung) = run(&items, calls, 256).await;
    let elapsed = started.elapsed();
    provider.force_flush().ok();
    let _ = provider.shutdown();
    let counts = counting.counts();
    let ended = counts.ended.load(Ordering::Relaxed);
    let exported = exporter.exported();
    report(&format!(
        "load: {calls} calls at concurrency 256 in {:.1} s ({:.0} calls/s): {ok} ok, {errors} errors, {hung} hung; spans started {}, ended {ended}, exported {exported}, dropped by the SDK {}; peak RSS {:.0} MiB",
        elapsed.as_secs_f64(),
        calls as f64 / elapsed.as_secs_f64(),
        counts.started.load(Ordering::Relaxed),
        ended - exported,
        peak_rss_mib(),
    ));
    assert_eq!(ok + errors + hung, calls);
    assert_eq!((errors, hung), (0, 0));
    assert_eq!(ended, calls, "every call's span ended");
    assert_eq!(counts.started.load(Ordering::Relaxed), ended);
    assert!(exported <= ended);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "reliability harness: run with --ignored (CI does)"]
async fn redis_killed_and_restarted_mid_run() {
    reset_peak_rss();
    let mut server = RedisServer::start();
    let items = Arc::new(manager(&server).await);
    let (provider, counting) = counted_provider(TestExporter::default());
    let calls = 60_000;
    let runner = {
        let items = Arc::clone(&items);
        tokio::spawn(async move { run(&items, calls, 256).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.stop(); // SIGKILL
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.restart();
    let (ok, errors, hung) = runner.await.unwrap();
    // After the restart, calls succeed again.
    let after = items.load(1).await;
    provider.force_flush().ok();
    let _ = provider.shutdown();
    let counts = counting.counts();
    let (ended, with_error) = (
        counts.ended.load(Ordering::Relaxed),
        counts.errors.load(Ordering::Relaxed),
    );
    report(&format!(
        "SIGKILL + restart: {calls} calls: {ok} ok, {errors} failed, {hung} hung past 5 s; spans ended {ended}, with error.type {with_error}; a call after the restart: {}",
        if after.is_ok() { "ok" } else { "failed" }
    ));
    assert_eq!(hung, 0, "no call hangs past its timeout");
    assert!(errors > 0, "the kill was seen");
    assert_eq!(ended, calls + 1, "every span ended");
    assert_eq!(
        with_error, errors,
        "every failed call's span carries error.type"
    );
    assert!(after.is_ok(), "calls succeed after the restart: {after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "reliability harness: run with --ignored (CI does)"]
async fn a_collector_down_or_silent_does_not_slow_redis() {
    reset_peak_rss();
    let server = RedisServer::start();
    let items = Arc::new(manager(&server).await);
    let calls = 100_000;
    let up = OtlpReceiver::http();
    let silent = SilentCollector::start();
    let mut figures = Vec::new();
    for (state, endpoint) in [
        ("up", up.endpoint()),
        ("refusing", refusing_endpoint()),
        ("silent", silent.endpoint()),
        ("up again", up.endpoint()),
    ] {
        reset_peak_rss();
        let exporter = tokio::task::spawn_blocking(move || {
            use opentelemetry_otlp::WithExportConfig as _;
            opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_endpoint(format!("{endpoint}/v1/traces"))
                .with_timeout(Duration::from_secs(2))
                .build()
                .unwrap()
        })
        .await
        .unwrap();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .build();
        redis_trace::use_tracer_provider(&provider);
        let started = Instant::now();
        let (ok, errors, hung) = run(&items, calls, 64).await;
        let elapsed = started.elapsed();
        assert_eq!((ok, errors, hung), (calls, 0, 0), "{state}");
        let shutdown_started = Instant::now();
        let shutdown = tokio::task::spawn_blocking(move || {
            provider.shutdown_with_timeout(Duration::from_secs(5))
        })
        .await
        .unwrap();
        let shutdown_took = shutdown_started.elapsed();
        let throughput = calls as f64 / elapsed.as_secs_f64();
        figures.push((state, throughput));
        report(&format!(
            "collector {state}: {calls} calls in {:.2} s ({throughput:.0} calls/s, {:.2}x the first run), shutdown in {:.2} s ({}), peak RSS {:.0} MiB",
            elapsed.as_secs_f64(),
            throughput / figures[0].1,
            shutdown_took.as_secs_f64(),
            if shutdown.is_ok() { "ok" } else { "timed out or failed" },
            peak_rss_mib(),
        ));
        assert!(
            shutdown_took < Duration::from_secs(15),
            "{state}: shutdown is bounded"
        );
    }
    assert!(
        !up.spans().is_empty(),
        "the collector that is up received spans"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "reliability harness: run with --ignored (CI does)"]
async fn a_cancellation_storm_ends_every_span_once() {
    reset_peak_rss();
    let server = RedisServer::start();
    let items = Arc::new(manager(&server).await);
    let (provider, counting) = counted_provider(TestExporter::default());
    let calls: u64 = 10_000;
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut cancelled = 0;
    let mut tasks = Vec::new();
    for id in 0..calls {
        // xorshift: a cancellation point between 0 and 2 ms after the call starts.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let after = Duration::from_micros(seed % 2000);
        let items = Arc::clone(&items);
        tasks.push(tokio::spawn(async move {
            tokio::time::timeout(after, items.load(id)).await.is_err()
        }));
    }
    for task in tasks {
        if task.await.unwrap() {
            cancelled += 1;
        }
    }
    provider.force_flush().ok();
    let _ = provider.shutdown();
    let counts = counting.counts();
    let (started, ended, twice) = (
        counts.started.load(Ordering::Relaxed),
        counts.ended.load(Ordering::Relaxed),
        counts.ended_twice.load(Ordering::Relaxed),
    );
    report(&format!(
        "cancellation storm: {calls} calls, {cancelled} cancelled; spans started {started}, ended {ended}, ended twice {twice}, with error.type {}",
        counts.errors.load(Ordering::Relaxed)
    ));
    assert_eq!((started, ended, twice), (calls, calls, 0));
    assert_eq!(counts.errors.load(Ordering::Relaxed), cancelled);
}
