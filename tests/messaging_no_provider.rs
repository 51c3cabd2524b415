//! With no tracer or meter provider installed, a traced connection with propagation on still
//! gives the user exactly what an untraced one gives: stream entries without the carrier
//! fields a traced producer added, pub/sub payloads without their envelope. It records nothing
//! and reads no context for itself.
//!
//! Its own test binary: the tracer and meter are resolved once per process, and this process
//! never installs a provider.

use futures_util::StreamExt as _;
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};
use redis::AsyncCommands;
use redis_trace::messaging::{self, MessageParent, TracedPubSub};
use redis_trace::TracedConnection;
use redis_trace_harness::RedisServer;

const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// Another instrumentation's context: valid, though no provider of redis-trace's records it.
fn foreign_context() -> opentelemetry::Context {
    opentelemetry::Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
        SpanId::from_hex("b7ad6b7169203331").unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    ))
}

/// The fields of every entry of `stream`, as an untraced reader sees them.
async fn raw_entries(
    raw: &mut redis::aio::MultiplexedConnection,
    stream: &str,
) -> Vec<(String, Vec<(String, String)>)> {
    let entries: Vec<(String, Vec<(String, String)>)> =
        raw.xrange_all(stream).await.expect("XRANGE");
    entries
}

fn fields_of(reply: &redis::streams::StreamReadReply) -> Vec<(String, Vec<(String, String)>)> {
    (reply.keys.iter())
        .flat_map(|key| key.ids.iter())
        .map(|entry| {
            let mut fields: Vec<(String, String)> = (entry.map.iter())
                .map(|(name, value)| {
                    let value: String = redis::from_redis_value_ref(value).unwrap();
                    (name.clone(), value)
                })
                .collect();
            fields.sort();
            (entry.id.clone(), fields)
        })
        .collect()
}

fn pairs(fields: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = (fields.iter())
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    pairs.sort();
    pairs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_entries_come_back_as_the_user_wrote_them() {
    let server = RedisServer::start();
    let mut raw = server.connection(0).await;
    let mut conn = TracedConnection::new(server.connection(0).await).with_propagation(true);
    // The first commands find the no-op tracer: from then on nothing is recorded.
    for _ in 0..3 {
        let _: Option<String> = conn.get("warm-up").await.unwrap();
    }
    redis_trace_harness::create_stream_group(&mut raw, "orders", "billing").await;

    // What a traced producer writes: the user's fields, then the carrier.
    let written: String = raw
        .xadd("orders", "*", &[("sku", "42"), ("traceparent", PARENT)])
        .await
        .unwrap();
    // A send through the traced connection carries the current (foreign) context.
    let add = conn.xadd::<_, _, _, _, String>("orders", "*", &[("sku", "43"), ("qty", "1")]);
    let carried = opentelemetry::context::FutureExt::with_context(add, foreign_context())
        .await
        .unwrap();
    let sent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    assert_eq!(
        raw_entries(&mut raw, "orders").await,
        [
            (
                written.clone(),
                vec![
                    ("sku".to_owned(), "42".to_owned()),
                    ("traceparent".to_owned(), PARENT.to_owned())
                ]
            ),
            (
                carried.clone(),
                vec![
                    ("sku".to_owned(), "43".to_owned()),
                    ("qty".to_owned(), "1".to_owned()),
                    ("traceparent".to_owned(), sent.to_owned())
                ]
            ),
        ],
        "the server holds the carriers"
    );

    let expected = vec![
        (written.clone(), pairs(&[("sku", "42")])),
        (carried.clone(), pairs(&[("sku", "43"), ("qty", "1")])),
    ];
    // XREADGROUP over RESP2 (arrays) ...
    let options = redis::streams::StreamReadOptions::default()
        .group("billing", "worker-1")
        .count(10);
    let read: redis::streams::StreamReadReply = conn
        .xread_options(&["orders"], &[">"], &options)
        .await
        .unwrap();
    assert_eq!(fields_of(&read), expected, "XREADGROUP, RESP2");
    // ... and XREAD over RESP3 (maps).
    let resp3 = redis::Client::open(format!("{}?protocol=resp3", server.url(0))).unwrap();
    let mut conn3 = TracedConnection::new(resp3.get_multiplexed_async_connection().await.unwrap())
        .with_propagation(true);
    let read: redis::streams::StreamReadReply = conn3.xread(&["orders"], &["0"]).await.unwrap();
    assert_eq!(fields_of(&read), expected, "XREAD, RESP3");
    // Without propagation the entries are the server's.
    let mut plain = TracedConnection::new(server.connection(0).await).with_propagation(false);
    let read: redis::streams::StreamReadReply = plain.xread(&["orders"], &["0"]).await.unwrap();
    assert_eq!(fields_of(&read).len(), 2);
    assert!(fields_of(&read)
        .iter()
        .all(|(_, fields)| fields.iter().any(|(name, _)| name == "traceparent")));

    // Nothing is recorded, so no producer is read or remembered.
    assert_eq!(conn.producer_of(&written), None);
    assert_eq!(conn3.producer_of(&carried), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pub_sub_payloads_come_back_as_the_user_published_them() {
    let server = RedisServer::start();
    let mut raw = server.connection(0).await;
    let mut conn = TracedConnection::new(server.connection(0).await).with_propagation(true);
    for _ in 0..3 {
        let _: Option<String> = conn.get("warm-up").await.unwrap();
    }
    let mut pubsub = TracedPubSub::new(server.client().get_async_pubsub().await.unwrap());
    pubsub.subscribe("orders").await.unwrap();
    let mut messages = pubsub.into_messages();

    let enveloped = [
        messaging::envelope::MARKER,
        format!("traceparent={PARENT}\x1e").as_bytes(),
        b"order \x1e 42",
    ]
    .concat();
    let _: i64 = raw.publish("orders", &enveloped).await.unwrap();
    let _: i64 = raw.publish("orders", b"plain").await.unwrap();
    let publish = conn.publish::<_, _, i64>("orders", b"carried");
    opentelemetry::context::FutureExt::with_context(publish, foreign_context())
        .await
        .unwrap();

    let first = messages.next().await.expect("a message");
    assert_eq!(first.payload(), b"order \x1e 42");
    assert_eq!(
        first.producer().map(|p| p.span_id().to_string()).as_deref(),
        Some("00f067aa0ba902b7"),
        "the envelope's context is still there for the asking"
    );
    assert_eq!(first.process(async { first.payload().len() }).await, 10);
    assert_eq!(first.into_msg().get_payload_bytes(), b"order \x1e 42");

    let second = messages.next().await.expect("a message");
    assert_eq!(second.payload(), b"plain");
    assert_eq!(second.producer(), None);
    assert_eq!(
        second.process_blocking(|| second.channel().to_owned()),
        "orders"
    );

    let third = messages.next().await.expect("a message");
    assert_eq!(third.payload(), b"carried", "the envelope is removed");
    assert_eq!(
        third.producer().map(|p| p.span_id().to_string()).as_deref(),
        Some("b7ad6b7169203331"),
        "the send carried the current context"
    );

    // A RESP3 push, as a push sender receives it.
    let push = redis::PushInfo {
        kind: redis::PushKind::Message,
        data: vec![
            redis::Value::BulkString(b"orders".to_vec()),
            redis::Value::BulkString(enveloped.clone()),
        ],
    };
    let message = messaging::Message::from_push(push, MessageParent::Producer).unwrap();
    assert_eq!(message.payload(), b"order \x1e 42");
    assert_eq!(message.get_payload::<String>().unwrap(), "order \x1e 42");
    assert_eq!(message.channel(), "orders");
    assert!(message.producer().is_some());
}
