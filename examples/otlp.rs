//! Export to an OpenTelemetry collector (or Jaeger, Tempo, ...) over OTLP, configured the
//! standard way:
//!
//! ```text
//! # a local collector/Jaeger listening on 4317 (gRPC) and 4318 (HTTP):
//! docker run --rm -p 16686:16686 -p 4317:4317 -p 4318:4318 jaegertracing/jaeger:latest
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317 OTEL_EXPORTER_OTLP_PROTOCOL=grpc \
//!   OTEL_SERVICE_NAME=redis-trace-example cargo run --example otlp
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf \
//!   OTEL_SERVICE_NAME=redis-trace-example cargo run --example otlp
//! ```
//!
//! To run it in your own project, copy it with `examples/support/mod.rs` (std and redis only);
//! redis-trace features: none (plus `opentelemetry-otlp`).
//!
//! then open http://127.0.0.1:16686 and find the service. Redis: REDIS_URL, else
//! 127.0.0.1:6379, else a private redis-server. Keys are prefixed `redis-trace-otlp:`.

use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry_otlp::{MetricExporter, SpanExporter};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use redis::AsyncCommands;
use redis_trace::{redis_traced, TracedConnection};

mod support;

struct Cart {
    conn: TracedConnection<redis::aio::MultiplexedConnection>,
}

impl Cart {
    #[redis_traced(
        op = "HINCRBY",
        key = "redis-trace-otlp:cart:{user}",
        name = "add to cart"
    )]
    async fn add(&self, user: u64, item: &str) -> redis::RedisResult<i64> {
        let key = format!("redis-trace-otlp:cart:{user}");
        self.conn.clone().hincr(key, item, 1).await
    }

    #[redis_traced(
        op = "HGETALL",
        key = "redis-trace-otlp:cart:{user}",
        name = "load cart"
    )]
    async fn load(&self, user: u64) -> redis::RedisResult<Vec<(String, i64)>> {
        let key = format!("redis-trace-otlp:cart:{user}");
        self.conn.clone().hgetall(key).await
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // OTEL_EXPORTER_OTLP_PROTOCOL picks the transport; the exporters read the endpoint, and the
    // SDK's resource reads OTEL_SERVICE_NAME, from the environment.
    let (spans, metrics) = match std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL").as_deref() {
        Ok("grpc") => (
            SpanExporter::builder().with_tonic().build()?,
            MetricExporter::builder().with_tonic().build()?,
        ),
        _ => (
            SpanExporter::builder().with_http().build()?,
            MetricExporter::builder().with_http().build()?,
        ),
    };
    let tracer_provider = SdkTracerProvider::builder()
        .with_batch_exporter(spans)
        .build();
    let meter_provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(metrics).build())
        .build();
    opentelemetry::global::set_tracer_provider(tracer_provider.clone());
    opentelemetry::global::set_meter_provider(meter_provider.clone());

    let redis = support::redis()?;
    redis_trace::set_default_endpoint(&redis.client);
    let conn = TracedConnection::new(redis.client.get_multiplexed_async_connection().await?)
        .with_endpoint(&redis.client);
    let cart = Cart { conn };

    let tracer = tracer_provider.tracer("otlp-example");
    let cx = opentelemetry::Context::current_with_span(tracer.start("checkout"));
    let trace_id = cx.span().span_context().trace_id();
    let work = async {
        cart.add(7, "apple").await?;
        cart.add(7, "pear").await?;
        println!("cart: {:?}", cart.load(7).await?);
        let _: usize = cart.conn.clone().del("redis-trace-otlp:cart:7").await?;
        Ok::<_, redis::RedisError>(())
    };
    opentelemetry::context::FutureExt::with_context(work, cx.clone()).await?;
    cx.span().end();

    // Flush before exiting: the batch processor and the periodic reader export in the
    // background.
    tracer_provider.shutdown()?;
    meter_provider.shutdown()?;
    println!("exported trace {trace_id}");
    Ok(())
}
