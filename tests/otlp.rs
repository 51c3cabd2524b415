//! Spans and metrics leave the process in the format collectors read: a traced workload
//! exported with opentelemetry-otlp, configured the standard way (OTEL_EXPORTER_OTLP_ENDPOINT,
//! OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_SERVICE_NAME), over gRPC and HTTP/protobuf, to a real OTLP
//! receiver in the test that decodes the protobuf. Asserted on the decoded data.

use std::collections::BTreeMap;

use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry_otlp::{MetricExporter, SpanExporter};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use redis::AsyncCommands;
use redis_trace::{redis_traced, TracedConnection};
use redis_trace_harness::otlp::proto::tonic::common::v1::any_value::Value as Any;
use redis_trace_harness::otlp::proto::tonic::common::v1::KeyValue;
use redis_trace_harness::otlp::proto::tonic::metrics::v1::metric::Data;
use redis_trace_harness::otlp::proto::tonic::trace::v1::span::SpanKind;
use redis_trace_harness::otlp::proto::tonic::trace::v1::status::StatusCode;
use redis_trace_harness::otlp::OtlpReceiver;
use redis_trace_harness::RedisServer;

struct Repo {
    conn: TracedConnection<redis::aio::MultiplexedConnection>,
}

impl Repo {
    #[redis_traced(op = "GET", key = "user:{id}", name = "load user")]
    async fn load(&self, id: u64) -> redis::RedisResult<Option<String>> {
        self.conn.clone().get(format!("user:{id}")).await
    }

    #[redis_traced(op = "HGETALL", key = "user:{id}", name = "wrong type")]
    async fn as_hash(&self, id: u64) -> redis::RedisResult<BTreeMap<String, String>> {
        self.conn.clone().hgetall(format!("user:{id}")).await
    }
}

/// The exporters the standard environment variables describe: `grpc` or `http/protobuf`.
fn exporters() -> (SpanExporter, MetricExporter) {
    match std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL").as_deref() {
        Ok("grpc") => (
            SpanExporter::builder().with_tonic().build().unwrap(),
            MetricExporter::builder().with_tonic().build().unwrap(),
        ),
        _ => (
            SpanExporter::builder().with_http().build().unwrap(),
            MetricExporter::builder().with_http().build().unwrap(),
        ),
    }
}

fn attributes(list: &[KeyValue]) -> BTreeMap<String, Any> {
    (list.iter())
        .filter_map(|kv| Some((kv.key.clone(), kv.value.clone()?.value?)))
        .collect()
}

fn string(value: &str) -> Any {
    Any::StringValue(value.to_owned())
}

#[test]
fn spans_and_metrics_arrive_over_grpc_and_http() {
    let server = RedisServer::start();
    for (protocol, receiver) in [
        ("grpc", OtlpReceiver::grpc()),
        ("http/protobuf", OtlpReceiver::http()),
    ] {
        // SAFETY of the environment: this binary's only test, one protocol at a time.
        std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint());
        std::env::set_var("OTEL_EXPORTER_OTLP_PROTOCOL", protocol);
        std::env::set_var("OTEL_SERVICE_NAME", "redis-trace-otlp-test");
        let runtime = tokio::runtime::Runtime::new().unwrap();
        // tonic's channel runs on the runtime it was built in.
        let (span_exporter, metric_exporter) = {
            let _entered = runtime.enter();
            exporters()
        };
        let tracer_provider = SdkTracerProvider::builder()
            .with_batch_exporter(span_exporter)
            .build();
        let meter_provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(metric_exporter).build())
            .build();
        redis_trace::use_tracer_provider(&tracer_provider);
        redis_trace::use_meter_provider(&meter_provider);

        runtime.block_on(async {
            let client = server.client();
            let conn = TracedConnection::new(server.connection(0).await).with_endpoint(&client);
            redis_trace::set_default_endpoint(&client);
            let repo = Repo { conn };
            let _: () = repo.conn.clone().set("user:2", "ada").await.unwrap();
            let tracer = tracer_provider.tracer("otlp-test");
            let cx = opentelemetry::Context::current_with_span(tracer.start("request"));
            let work = async {
                assert_eq!(repo.load(1).await.unwrap(), None);
                assert!(repo.as_hash(2).await.is_err());
            };
            opentelemetry::context::FutureExt::with_context(work, cx.clone()).await;
            cx.span().end();
        });
        tracer_provider.force_flush().unwrap();
        meter_provider.force_flush().unwrap();
        receiver.wait_for("the spans", |r| r.spans().len() >= 6);

        // Resource: the service name from the environment.
        let received = receiver.received();
        let resource = received.traces[0].resource_spans[0]
            .resource
            .clone()
            .unwrap();
        assert_eq!(
            attributes(&resource.attributes)["service.name"],
            string("redis-trace-otlp-test"),
            "{protocol}"
        );
        drop(received);

        let spans = receiver.spans();
        let find = |name: &str| {
            let found: Vec<_> = spans.iter().filter(|s| s.name == name).collect();
            assert_eq!(
                found.len(),
                1,
                "{protocol}: one span named {name:?}: {:?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            );
            found[0].clone()
        };
        let port = format!("127.0.0.1:{}", server.port());
        let request = find("request");
        let load = find("load user");
        let get = find(&format!("GET {port}"));
        let wrong = find("wrong type");
        assert_eq!(load.kind, SpanKind::Client as i32, "{protocol}");
        assert_eq!(get.kind, SpanKind::Client as i32, "{protocol}");
        assert_eq!(request.kind, SpanKind::Internal as i32, "{protocol}");
        assert_eq!(
            load.parent_span_id, request.span_id,
            "{protocol}: load under request"
        );
        assert_eq!(
            get.parent_span_id, load.span_id,
            "{protocol}: the command under the function"
        );
        assert_eq!(wrong.parent_span_id, request.span_id, "{protocol}");
        for span in [&load, &get, &wrong] {
            assert_eq!(span.trace_id, request.trace_id, "{protocol}: one trace");
        }
        let recorded = attributes(&load.attributes);
        assert_eq!(recorded["db.system.name"], string("redis"), "{protocol}");
        assert_eq!(recorded["db.operation.name"], string("GET"), "{protocol}");
        assert_eq!(
            recorded["db.query.summary"],
            string("load user"),
            "{protocol}"
        );
        assert_eq!(recorded["redis.key"], string("user:?"), "{protocol}");
        assert_eq!(
            recorded["server.port"],
            Any::IntValue(server.port().into()),
            "{protocol}"
        );
        assert_eq!(recorded["cache.hit"], Any::BoolValue(false), "{protocol}");
        assert_eq!(
            attributes(&get.attributes)["db.query.text"],
            string("GET user:?"),
            "{protocol}"
        );
        let status = wrong.status.clone().unwrap();
        assert_eq!(status.code, StatusCode::Error as i32, "{protocol}");
        assert!(
            status.message.starts_with("WRONGTYPE: "),
            "{protocol}: {}",
            status.message
        );
        assert_eq!(
            attributes(&wrong.attributes)["error.type"],
            string("WRONGTYPE"),
            "{protocol}"
        );

        // The duration histogram: our buckets, one call per function (the command inside
        // `load user` records none of its own), the failure with its error.type.
        receiver.wait_for("the metrics", |r| !r.metrics().is_empty());
        let metrics = receiver.metrics();
        let duration = metrics
            .iter()
            .rfind(|m| m.name == "db.client.operation.duration")
            .expect("the duration histogram");
        assert_eq!(duration.unit, "s", "{protocol}");
        let Some(Data::Histogram(histogram)) = &duration.data else {
            panic!("{protocol}: not a histogram: {duration:?}");
        };
        let by_operation: BTreeMap<(String, Option<String>), u64> = (histogram.data_points.iter())
            .map(|point| {
                let recorded = attributes(&point.attributes);
                let text = |key: &str| match recorded.get(key) {
                    Some(Any::StringValue(value)) => Some(value.clone()),
                    _ => None,
                };
                assert_eq!(
                    point.explicit_bounds,
                    [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0],
                    "{protocol}"
                );
                assert_eq!(
                    point.bucket_counts.iter().sum::<u64>(),
                    point.count,
                    "{protocol}"
                );
                (
                    (text("db.operation.name").unwrap(), text("error.type")),
                    point.count,
                )
            })
            .collect();
        assert_eq!(
            by_operation,
            BTreeMap::from([
                (("GET".to_owned(), None), 1),
                (("HGETALL".to_owned(), Some("WRONGTYPE".to_owned())), 1),
                (("SET".to_owned(), None), 1),
            ]),
            "{protocol}"
        );
        tracer_provider.shutdown().unwrap();
        meter_provider.shutdown().unwrap();
        drop(runtime);
        redis_trace::clear_default_endpoint();
    }
}
