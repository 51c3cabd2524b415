//! A service instrumented with `tracing`, exported through tracing-opentelemetry, calling an
//! annotated repository: one trace, the Redis span under the request span, and the `tracing`
//! spans created inside the annotated function under the Redis span. Uses
//! `redis_trace::testing`, as a user's own test would.

use opentelemetry::trace::TracerProvider as _;
use redis::AsyncCommands;
use redis_trace::redis_traced;
use redis_trace::testing::{assert_attributes, SpanNode, Telemetry};
use redis_trace_harness::RedisServer;
use tracing_subscriber::layer::SubscriberExt;

struct Users {
    conn: redis::aio::MultiplexedConnection,
}

impl Users {
    #[redis_traced(op = "GET", key = "user:{id}", name = "load user")]
    async fn load(&self, id: u64) -> redis::RedisResult<Option<String>> {
        let name: Option<String> = self.conn.clone().get(format!("user:{id}")).await?;
        tracing::info!(found = name.is_some(), "looked up");
        let decoded =
            tracing::info_span!("decode user").in_scope(|| name.map(|n| n.to_uppercase()));
        Ok(decoded)
    }
}

#[tracing::instrument(skip(users))]
async fn handle_request(users: &Users, id: u64) -> redis::RedisResult<Option<String>> {
    users.load(id).await
}

fn assert_child(parent: &SpanNode, child: &str) -> SpanNode {
    let found = parent.child(child).unwrap_or_else(|| {
        let children: Vec<&str> = parent.children.iter().map(SpanNode::name).collect();
        panic!(
            "{child:?} is not a child of {:?}: {children:?}",
            parent.name()
        )
    });
    assert_eq!(
        found.span.parent_span_id,
        parent.span.span_context.span_id(),
        "parent span id of {child:?}"
    );
    assert_eq!(
        found.span.span_context.trace_id(),
        parent.span.span_context.trace_id(),
        "trace id of {child:?}"
    );
    found.clone()
}

#[tokio::test]
async fn tracing_spans_inside_an_annotated_function_are_children_of_its_redis_span() {
    let telemetry = Telemetry::install();
    let server = RedisServer::start();
    let users = Users {
        conn: server.connection(0).await,
    };
    let _: () = users.conn.clone().set("user:7", "ada").await.unwrap();
    let layer =
        tracing_opentelemetry::layer().with_tracer(telemetry.tracer_provider().tracer("app"));
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));

    assert_eq!(
        handle_request(&users, 7).await.unwrap().as_deref(),
        Some("ADA")
    );

    let tree = telemetry.tree();
    println!("{}", telemetry.view().all_attributes());
    assert_eq!(tree.roots.len(), 1, "one trace:\n{}", tree.outline());
    let request = &tree.roots[0];
    assert_eq!(request.name(), "handle_request");
    let redis = assert_child(request, "load user");
    assert_attributes(
        &redis.span,
        &[
            ("db.operation.name", "GET".into()),
            ("cache.hit", true.into()),
        ],
    );
    assert_child(&redis, "decode user");
    assert_eq!(
        tree.outline(),
        "handle_request\n  load user\n    decode user\n"
    );
    // tracing-opentelemetry attaches an event to the innermost `tracing` span: the request span,
    // in the same trace, not the Redis span (which `tracing` does not know).
    let event_names = |node: &SpanNode| -> Vec<String> {
        node.span
            .events
            .iter()
            .map(|event| event.name.to_string())
            .collect()
    };
    assert_eq!(event_names(request), ["looked up"]);
    assert!(event_names(&redis).is_empty());
}
