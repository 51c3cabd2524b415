//! The examples run against a private redis-server and print what the docs say they print:
//! the README's trace is the quickstart's (durations, bars and ids aside), and the guide quotes
//! the compiler's errors as it prints them.

use std::path::{Path, PathBuf};
use std::process::Command;

use redis_trace_harness::otlp::OtlpReceiver;
use redis_trace_harness::RedisServer;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The example's binary, built by `cargo test` (or `cargo build --examples`) next to this test's.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let binary = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name);
    let built = std::fs::metadata(&binary)
        .and_then(|meta| meta.modified())
        .unwrap_or_else(|error| {
            panic!(
                "{}: {error}; build it with `cargo build --examples`",
                binary.display()
            )
        });
    let source = Path::new(ROOT).join("examples").join(format!("{name}.rs"));
    let written = std::fs::metadata(&source).unwrap().modified().unwrap();
    assert!(
        built >= written,
        "{} is older than {}; build it with `cargo build --examples`",
        binary.display(),
        source.display()
    );
    binary
}

/// Runs the example against `server`; its stdout, after checking it exited with 0.
fn run(name: &str, server: &RedisServer) -> String {
    let output = Command::new(example(name))
        .env("REDIS_URL", server.url(0))
        .env_remove("REDIS_CLUSTER_URLS")
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{name} failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The text between `<!-- NAME:start -->` and `<!-- NAME:end -->` in `file`, inside its code
/// fence.
fn excerpt(file: &str, name: &str) -> String {
    let text = std::fs::read_to_string(Path::new(ROOT).join(file)).unwrap();
    let start = format!("<!-- {name}:start -->");
    let end = format!("<!-- {name}:end -->");
    let inner = text
        .split_once(&start)
        .and_then(|(_, rest)| rest.split_once(&end))
        .unwrap_or_else(|| panic!("{file} has no {start} … {end}"))
        .0;
    let code = inner.split_once("```text\n").unwrap().1;
    code.rsplit_once("```").unwrap().0.to_owned()
}

/// The trace view and the pattern table of a quickstart's output (from its trace on), each
/// without what changes from run to run.
fn normalized_output(output: &str) -> (Vec<String>, Vec<String>) {
    let output = &output[output.find("trace ").expect("a trace view")..];
    let (trace, table) = output.split_once("\n\n").expect("a table after the trace");
    (normalized_trace(trace), normalized_table(table))
}

/// A pattern table without durations and column padding.
fn normalized_table(table: &str) -> Vec<String> {
    let units = ["ns", "µs", "ms", "s"];
    table
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let mut kept = Vec::new();
            let mut at = 0;
            while at < words.len() {
                let is_duration = words[at].parse::<f64>().is_ok()
                    && words.get(at + 1).is_some_and(|unit| units.contains(unit));
                if is_duration {
                    kept.push("T");
                    at += 2;
                } else {
                    kept.push(words[at]);
                    at += 1;
                }
            }
            kept.join(" ")
        })
        .collect()
}

/// A trace view without what changes from run to run: the trace id and length, durations, the
/// bars, the port and column padding.
fn normalized_trace(view: &str) -> Vec<String> {
    view.lines()
        .filter(|line| !line.is_empty())
        .map(|line| {
            if let Some(header) = line.strip_prefix("trace ") {
                let spans = header.split(" · ").nth(1).unwrap_or_default();
                return format!("trace · {spans}");
            }
            let (left, right) = line.split_once('│').unwrap();
            let after_bar = right.split_once('│').unwrap().1;
            let name = left.trim_end().rsplitn(3, ' ').nth(2).unwrap_or_default();
            let line = format!("{name} | {after_bar}");
            let words: Vec<&str> = line.split_whitespace().collect();
            words.join(" ")
        })
        .map(|line| without_port(&line))
        .collect()
}

fn without_port(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find("127.0.0.1:") {
        out.push_str(&rest[..at + "127.0.0.1:".len()]);
        rest = rest[at + "127.0.0.1:".len()..].trim_start_matches(|c: char| c.is_ascii_digit());
        out.push_str("PORT");
    }
    out.push_str(rest);
    out
}

/// The header of the pattern table the examples print after their trace
/// (`Telemetry::patterns`), as [`normalized_table`] reads it.
const TABLE_HEADER: &str = "pattern calls errors p50 p99 hit ratio";

/// The pattern table `name` printed (its header line on, normalized), which must follow a trace
/// view and have a row.
fn printed_table(name: &str, output: &str) -> Vec<String> {
    let lines = normalized_table(output);
    let header = lines.iter().position(|line| line == TABLE_HEADER);
    let Some(header) = header else {
        panic!("{name} prints no pattern table (`{TABLE_HEADER}`):\n{output}");
    };
    let trace = output.lines().position(|line| line.starts_with("trace "));
    let table = output.lines().position(|line| line.starts_with("pattern "));
    assert!(
        trace.is_some_and(|trace| Some(trace) < table),
        "{name}: a trace view, then the table:\n{output}"
    );
    let table = lines[header..].to_vec();
    assert!(table.len() > 1, "{name}: a table without rows:\n{output}");
    table
}

#[test]
fn quickstart_prints_the_trace_the_readme_shows() {
    let server = RedisServer::start();
    let stdout = run("quickstart", &server);
    let (printed, table) = normalized_output(&stdout);
    let readme = excerpt("README.md", "quickstart");
    assert_eq!(
        (&printed, &table),
        (&normalized_output(&readme).0, &normalized_output(&readme).1)
    );
    // The normalization keeps what the trace and the table say.
    let lookup =
        "├─ GET redis-trace-quickstart:name:{id} | redis.key=redis-trace-quickstart:name:? \
                  cache.hit=false";
    assert!(printed.contains(&lookup.to_owned()), "{printed:#?}");
    let row = "GET redis-trace-quickstart:name:{id} 2 0 T T 50.0 %";
    assert!(table.contains(&row.to_owned()), "{table:#?}");
    assert_eq!(table[0], TABLE_HEADER, "{table:#?}");
    printed_table("quickstart", &stdout);
}

#[test]
fn every_example_runs_against_a_private_server() {
    let server = RedisServer::start();
    let port = server.port();

    let pipeline = run("pipeline_and_cluster", &server);
    assert!(
        pipeline.contains(&format!("PIPELINE SET 127.0.0.1:{port}")),
        "{pipeline}"
    );
    assert!(pipeline.contains("db.operation.batch.size=2"), "{pipeline}");

    let lock = run("lock", &server);
    let acquired = |applied: bool| {
        lock.lines().any(|line| {
            line.contains("acquire lock") && line.contains(&format!("redis.applied={applied}"))
        })
    };
    assert!(acquired(true) && acquired(false), "{lock}");
    assert!(
        !lock.contains("cache.hit"),
        "a lock is not a cache lookup:\n{lock}"
    );

    let pool = run("pool", &server);
    assert!(pool.contains("db.client.connection.max = 8"), "{pool}");
    assert!(
        pool.contains("db.client.connection.wait_time: 64 measurements"),
        "{pool}"
    );
    assert!(pool.contains("128 command spans"), "{pool}");
    // One trace: the load's span and, under it, every command.
    assert!(pool.contains("· 129 spans ·"), "{pool}");
    let table = printed_table("pool", &pool);
    for command in ["SETEX", "DEL"] {
        let row = format!("{command} 127.0.0.1:{port} 64 0 T T -");
        assert!(table.contains(&row), "{table:#?}");
    }

    let messaging = run("messaging", &server);
    assert!(
        messaging.contains("pub/sub message: order 42 placed"),
        "{messaging}"
    );
    assert!(
        messaging.contains("│  └─ process redis-trace-messaging:orders"),
        "{messaging}"
    );
    assert!(
        messaging.contains("   └─ process redis-trace-messaging:invoices"),
        "{messaging}"
    );
    assert!(
        messaging.contains("messaging.batch.message_count=1"),
        "{messaging}"
    );
    let lag: f64 = (messaging.split("redis.stream.max_lag=").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("a stream lag: {messaging}"));
    assert!(
        (0.3..60.0).contains(&lag),
        "a consumer 300 ms behind: {messaging}"
    );

    let service = run("tracing_service", &server);
    assert!(service.contains("└─ load session"), "{service}");
    assert!(service.contains("   └─ check session"), "{service}");

    // Every example prints its trace and the pattern table: otlp exports to a collector
    // instead (its own test), the quickstart's table is compared with the README's above.
    let printed = [
        ("pipeline_and_cluster", &pipeline),
        ("lock", &lock),
        ("pool", &pool),
        ("messaging", &messaging),
        ("tracing_service", &service),
    ];
    for (name, output) in printed {
        printed_table(name, output);
    }
    let mut examples: Vec<String> = std::fs::read_dir(Path::new(ROOT).join("examples"))
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".rs").map(str::to_owned)
        })
        .filter(|name| name != "otlp" && name != "quickstart")
        .collect();
    examples.sort();
    let mut checked: Vec<&str> = printed.iter().map(|(name, _)| *name).collect();
    checked.sort_unstable();
    assert_eq!(
        examples, checked,
        "every example runs here, with its table checked"
    );
}

#[test]
fn the_otlp_example_exports_to_a_collector_over_both_protocols() {
    let server = RedisServer::start();
    for (protocol, receiver) in [
        ("grpc", OtlpReceiver::grpc()),
        ("http/protobuf", OtlpReceiver::http()),
    ] {
        let output = Command::new(example("otlp"))
            .env("REDIS_URL", server.url(0))
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
            .env("OTEL_SERVICE_NAME", "redis-trace-example")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{protocol}: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let names: Vec<String> = receiver.spans().into_iter().map(|span| span.name).collect();
        for name in ["checkout", "add to cart", "load cart"] {
            assert!(names.iter().any(|n| n == name), "{protocol}: {names:?}");
        }
        let trace_id = stdout.trim().rsplit(' ').next().unwrap();
        let exported_id = receiver.spans()[0]
            .trace_id
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        assert_eq!(exported_id, trace_id, "{protocol}");
        assert!(
            receiver
                .metrics()
                .iter()
                .any(|m| m.name == "db.client.operation.duration"),
            "{protocol}"
        );
    }
}

#[test]
fn the_guide_quotes_the_compile_errors_as_the_compiler_prints_them() {
    let stderr = std::fs::read_to_string(
        Path::new(ROOT).join("tests/ui/fail/every_error_is_reported.stderr"),
    )
    .unwrap()
    .replace("tests/ui/fail/every_error_is_reported.rs", "src/repo.rs");
    assert_eq!(
        excerpt("docs/guide.md", "compile-errors").trim_end(),
        stderr.trim_end()
    );
}
