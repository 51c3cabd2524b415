
/// Added by redis-trace's CI (.ci/redis-rs-suite): the connections this suite asks for are
/// `TracedConnection`s recording into a real OpenTelemetry SDK (tracer and meter providers).
/// Each ended span prints one `redis-trace-span:` line, which the runner counts.
pub mod traced {
    use opentelemetry::Context;
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
    use opentelemetry_sdk::trace::{SdkTracerProvider, Span, SpanData, SpanProcessor};
    use std::sync::OnceLock;
    use std::time::Duration;

    #[derive(Debug)]
    struct PrintEnded;

    impl SpanProcessor for PrintEnded {
        fn on_start(&self, _span: &mut Span, _cx: &Context) {}
        fn on_end(&self, span: SpanData) {
            eprintln!("redis-trace-span: {}", span.name);
        }
        fn force_flush(&self) -> OTelSdkResult {
            Ok(())
        }
        fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
            Ok(())
        }
    }

    static PROVIDERS: OnceLock<(SdkTracerProvider, SdkMeterProvider)> = OnceLock::new();

    fn install() {
        PROVIDERS.get_or_init(|| {
            let tracer = SdkTracerProvider::builder()
                .with_span_processor(PrintEnded)
                .build();
            let meter = SdkMeterProvider::builder()
                .with_reader(PeriodicReader::builder(InMemoryMetricExporter::default()).build())
                .build();
            redis_trace::use_tracer_provider(&tracer);
            redis_trace::use_meter_provider(&meter);
            (tracer, meter)
        });
    }

    /// `connection` wrapped, its spans naming `client`'s server.
    pub fn wrap<C>(connection: C, client: &redis::Client) -> redis_trace::TracedConnection<C> {
        install();
        redis_trace::TracedConnection::new(connection).with_endpoint(client)
    }
}
