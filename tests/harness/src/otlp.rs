//! A real OTLP receiver for the tests: gRPC (tonic, the generated collector services of
//! `opentelemetry-proto`) or HTTP/protobuf (axum, `POST /v1/traces` and `/v1/metrics`), on a
//! free loopback port, decoding every export request into the protobuf types. Also the two
//! broken collectors: one refusing connections, one accepting them and never answering.

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;

/// The decoded OTLP types, for assertions.
pub use opentelemetry_proto as proto;

/// What the receiver decoded.
#[derive(Default, Debug)]
pub struct Received {
    /// Every trace export request.
    pub traces: Vec<ExportTraceServiceRequest>,
    /// Every metrics export request.
    pub metrics: Vec<ExportMetricsServiceRequest>,
}

type Shared = Arc<Mutex<Received>>;

/// An OTLP receiver running on its own thread and runtime until dropped.
pub struct OtlpReceiver {
    address: SocketAddr,
    received: Shared,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl OtlpReceiver {
    /// OTLP over gRPC.
    pub fn grpc() -> Self {
        Self::serve(|listener, received, stop| async move {
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
            let _ = tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(Collector(Arc::clone(&received))))
                .add_service(MetricsServiceServer::new(Collector(received)))
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stop.await;
                })
                .await;
        })
    }

    /// OTLP over HTTP with protobuf bodies.
    pub fn http() -> Self {
        Self::serve(|listener, received, stop| async move {
            let traces = Arc::clone(&received);
            let router = axum::Router::new()
                .route(
                    "/v1/traces",
                    axum::routing::post(move |body: axum::body::Bytes| async move {
                        let request = ExportTraceServiceRequest::decode(body).map_err(|_| 400u16);
                        let request = request
                            .map_err(|code| axum::http::StatusCode::from_u16(code).unwrap())?;
                        lock(&traces).traces.push(request);
                        let reply = ExportTraceServiceResponse::default().encode_to_vec();
                        Ok::<_, axum::http::StatusCode>((
                            [("content-type", "application/x-protobuf")],
                            reply,
                        ))
                    }),
                )
                .route(
                    "/v1/metrics",
                    axum::routing::post(move |body: axum::body::Bytes| async move {
                        let request = ExportMetricsServiceRequest::decode(body);
                        let request = request.map_err(|_| axum::http::StatusCode::BAD_REQUEST)?;
                        lock(&received).metrics.push(request);
                        let reply = ExportMetricsServiceResponse::default().encode_to_vec();
                        Ok::<_, axum::http::StatusCode>((
                            [("content-type", "application/x-protobuf")],
                            reply,
                        ))
                    }),
                );
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stop.await;
                })
                .await;
        })
    }

    fn serve<F, Fut>(server: F) -> Self
    where
        F: FnOnce(tokio::net::TcpListener, Shared, tokio::sync::oneshot::Receiver<()>) -> Fut
            + Send
            + 'static,
        Fut: std::future::Future<Output = ()>,
    {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let address = listener.local_addr().expect("local address");
        let received = Shared::default();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let shared = Arc::clone(&received);
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("receiver runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                server(listener, shared, stopped).await;
            });
        });
        Self {
            address,
            received,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:{port}`, for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Every span received so far, across requests, resources and scopes.
    pub fn spans(&self) -> Vec<Span> {
        let received = lock(&self.received);
        (received.traces.iter())
            .flat_map(|request| &request.resource_spans)
            .flat_map(|resource| &resource.scope_spans)
            .flat_map(|scope| scope.spans.iter().cloned())
            .collect()
    }

    /// Every metric received so far, across requests.
    pub fn metrics(&self) -> Vec<Metric> {
        let received = lock(&self.received);
        (received.metrics.iter())
            .flat_map(|request| &request.resource_metrics)
            .flat_map(|resource| &resource.scope_metrics)
            .flat_map(|scope| scope.metrics.iter().cloned())
            .collect()
    }

    /// What was received, as decoded.
    pub fn received(&self) -> std::sync::MutexGuard<'_, Received> {
        lock(&self.received)
    }

    /// Waits up to 10 s until `ready` holds.
    pub fn wait_for(&self, what: &str, ready: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ready(self) {
            assert!(Instant::now() < deadline, "waited 10 s for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn lock(received: &Shared) -> std::sync::MutexGuard<'_, Received> {
    received.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Collector(Shared);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        lock(&self.0).traces.push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        lock(&self.0).metrics.push(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

/// A collector that is down: its port refuses connections (`http://127.0.0.1:{port}`).
pub fn refusing_endpoint() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port();
    format!("http://127.0.0.1:{port}")
}

/// A collector that accepts connections and never answers, until dropped.
pub struct SilentCollector {
    address: SocketAddr,
    _thread: JoinHandle<()>,
}

impl SilentCollector {
    /// Starts accepting on a free loopback port; accepted sockets are held open, unread.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
        let address = listener.local_addr().expect("local address");
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                held.push(stream);
            }
        });
        Self {
            address,
            _thread: thread,
        }
    }

    /// `http://127.0.0.1:{port}`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }
}
