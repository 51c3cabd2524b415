//! Pub/sub and streams traced end to end against a real redis-server: the producer's trace
//! continues in the consumer, payloads arrive byte for byte, malformed carriers are ignored,
//! empty polls record no span.

use std::collections::BTreeMap;

use futures_util::StreamExt as _;
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry::Value;
use opentelemetry_sdk::trace::SpanData;
use redis::AsyncCommands;
use redis_trace::messaging::{self, MessageParent, TracedPubSub};
use redis_trace::TracedConnection;
use redis_trace_harness::{attributes, capture, Capture, RedisServer};

fn text(value: &str) -> Value {
    Value::from(value.to_owned())
}

async fn producer(
    server: &RedisServer,
    propagate: bool,
) -> TracedConnection<redis::aio::MultiplexedConnection> {
    TracedConnection::new(server.connection(0).await)
        .with_endpoint(server.client())
        .with_propagation(propagate)
}

/// Publishes `payload` on `channel` under a parent span `request`; the PUBLISH span.
async fn publish(
    capture: &Capture,
    conn: &mut TracedConnection<redis::aio::MultiplexedConnection>,
    channel: &str,
    payload: &[u8],
) {
    let tracer = capture.tracer_provider().tracer("test");
    let cx = opentelemetry::Context::current_with_span(tracer.start("request"));
    let publish = conn.publish::<_, _, i64>(channel, payload);
    let receivers = opentelemetry::context::FutureExt::with_context(publish, cx.clone())
        .await
        .unwrap();
    assert!(receivers >= 1, "a subscriber received it");
    cx.span().end();
}

fn only(spans: &[SpanData], name: &str) -> SpanData {
    let found: Vec<_> = spans.iter().filter(|s| s.name == name).collect();
    let names: Vec<_> = spans.iter().map(|s| s.name.to_string()).collect();
    assert_eq!(found.len(), 1, "one span named {name:?} in {names:?}");
    found[0].clone()
}

#[tokio::test]
async fn a_published_message_continues_the_producers_trace() {
    let capture = capture();
    let server = RedisServer::start();
    let mut pubsub = TracedPubSub::new(server.client().get_async_pubsub().await.unwrap())
        .with_endpoint(server.client());
    pubsub.subscribe("orders").await.unwrap();
    let mut messages = Box::pin(pubsub.into_messages());
    let mut conn = producer(&server, true).await;
    let payload = b"order \x00 42";
    publish(&capture, &mut conn, "orders", payload).await;

    let message = messages.next().await.unwrap();
    assert_eq!(message.payload(), payload);
    assert_eq!(message.channel(), "orders");
    let handled = message
        .process(async {
            opentelemetry::Context::current()
                .span()
                .span_context()
                .clone()
        })
        .await;

    let spans = capture.spans();
    let send = only(&spans, "PUBLISH orders");
    assert_eq!(send.span_kind, SpanKind::Producer);
    let recorded = attributes(&send);
    assert_eq!(recorded["messaging.system"], text("redis"));
    assert_eq!(recorded["messaging.operation.type"], text("send"));
    assert_eq!(recorded["messaging.operation.name"], text("PUBLISH"));
    assert_eq!(recorded["messaging.destination.name"], text("orders"));
    assert_eq!(
        recorded["messaging.message.body.size"],
        Value::I64(payload.len() as i64)
    );
    assert_eq!(recorded["db.operation.name"], text("PUBLISH"));

    let process = only(&spans, "process orders");
    assert_eq!(process.span_kind, SpanKind::Consumer);
    assert_eq!(
        process.span_context.trace_id(),
        send.span_context.trace_id(),
        "one trace"
    );
    assert_eq!(
        process.parent_span_id,
        send.span_context.span_id(),
        "the producer is the parent"
    );
    assert_eq!(process.links.len(), 1);
    assert_eq!(process.links[0].span_context, *message.producer().unwrap());
    assert_eq!(
        message.producer().unwrap().span_id(),
        send.span_context.span_id()
    );
    assert_eq!(
        handled.span_id(),
        process.span_context.span_id(),
        "current while handling"
    );
    let recorded = attributes(&process);
    assert_eq!(recorded["messaging.operation.type"], text("process"));
    assert_eq!(recorded["messaging.destination.name"], text("orders"));
    assert_eq!(
        recorded["messaging.message.body.size"],
        Value::I64(payload.len() as i64)
    );
    assert_eq!(recorded["server.port"], Value::I64(server.port().into()));

    let point = |name: &str| {
        capture
            .metric_points(name)
            .iter()
            .map(|p| p.value)
            .sum::<u64>()
    };
    assert_eq!(point("messaging.client.sent.messages"), 1);
    assert_eq!(point("messaging.client.consumed.messages"), 1);
    assert_eq!(point("messaging.process.duration"), 1);
    // The messaging metrics require messaging.operation.name on every point.
    for (metric, operation) in [
        ("messaging.client.consumed.messages", "receive"),
        ("messaging.process.duration", "process"),
    ] {
        let points = capture.metric_points(metric);
        let names: Vec<&Value> = (points.iter())
            .map(|p| &p.attributes["messaging.operation.name"])
            .collect();
        assert_eq!(names, [&text(operation)], "{metric}");
    }
    let operations = capture.metric_points("messaging.client.operation.duration");
    assert_eq!(operations.len(), 1);
    assert_eq!(operations[0].value, 1);
    assert_eq!(
        operations[0].attributes["messaging.operation.name"],
        text("PUBLISH")
    );
    assert_eq!(
        operations[0].attributes["messaging.destination.name"],
        text("orders")
    );
}

#[tokio::test]
async fn patterns_payload_fidelity_and_the_current_parent() {
    let capture = capture();
    let server = RedisServer::start();
    let mut traced = TracedPubSub::new(server.client().get_async_pubsub().await.unwrap())
        .with_parent(MessageParent::Current);
    traced.psubscribe("orders.*").await.unwrap();
    let mut traced = Box::pin(traced.into_messages());
    let mut plain = server.client().get_async_pubsub().await.unwrap();
    plain.psubscribe("orders.*").await.unwrap();
    let mut plain = plain.into_on_message();

    let big: Vec<u8> = (0..(1 << 20)).map(|i| (i % 251) as u8).collect();
    for propagate in [false, true] {
        let mut conn = producer(&server, propagate).await;
        for payload in [&b"\x00\x01\x00binary\x00"[..], &big] {
            capture.clear();
            publish(&capture, &mut conn, "orders.eu", payload).await;
            let message = traced.next().await.unwrap();
            assert_eq!(message.payload(), payload, "propagate {propagate}");
            assert_eq!(message.pattern(), Some("orders.*"));
            assert_eq!(message.producer().is_some(), propagate);
            message.process(async {}).await;
            let untraced = plain.next().await.unwrap();
            // Without injection a plain consumer sees the payload as published; with it, the
            // envelope around it.
            assert_eq!(untraced.get_payload_bytes() == payload, !propagate);
            let (inner, _) = messaging::unwrap_payload(untraced.get_payload_bytes());
            assert_eq!(inner, payload);
            let process = only(&capture.spans(), "process orders.eu");
            assert_eq!(
                attributes(&process)["messaging.destination.template"],
                text("orders.*")
            );
            assert_eq!(process.links.len(), usize::from(propagate));
            assert_eq!(
                process.parent_span_id,
                opentelemetry::trace::SpanId::INVALID,
                "MessageParent::Current: no current span here"
            );
        }
    }
}

#[tokio::test]
async fn malformed_carriers_are_ignored() {
    let _capture = capture();
    let server = RedisServer::start();
    let mut pubsub = TracedPubSub::new(server.client().get_async_pubsub().await.unwrap());
    pubsub.subscribe("orders").await.unwrap();
    let mut messages = Box::pin(pubsub.into_messages());
    let mut plain = server.connection(0).await;
    let huge = "x".repeat(100_000);
    let cases: Vec<(Vec<u8>, &[u8])> = vec![
        (b"\x1eotel1\x1etraceparent=garbage\x1epayload".to_vec(), b"payload"),
        (b"\x1eotel1\x1etraceparent=ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\x1epayload".to_vec(), b"payload"),
        (b"\x1eotel1\x1etraceparent=00-4bf92f3577b34da6a3ce929d0e0e4736".to_vec(), b"\x1eotel1\x1etraceparent=00-4bf92f3577b34da6a3ce929d0e0e4736"),
        ([&b"\x1eotel1\x1etraceparent="[..], huge.as_bytes(), b"\x1epayload"].concat(), b""),
    ];
    for (sent, expected) in &cases {
        let _: i64 = plain.publish("orders", sent.as_slice()).await.unwrap();
        let message = messages.next().await.unwrap();
        assert!(message.producer().is_none());
        if expected.is_empty() {
            assert_eq!(
                message.payload(),
                sent.as_slice(),
                "an unterminated carrier: the message as sent"
            );
        } else {
            assert_eq!(message.payload(), *expected);
        }
        message.process(async {}).await;
    }
}

#[tokio::test]
async fn a_stream_entry_continues_the_producers_trace_through_a_consumer_group() {
    let capture = capture();
    let server = RedisServer::start();
    let mut conn = producer(&server, true).await;
    redis_trace_harness::create_stream_group(&mut conn, "orders", "billing").await;
    capture.clear();

    let tracer = capture.tracer_provider().tracer("test");
    let cx = opentelemetry::Context::current_with_span(tracer.start("checkout"));
    let add = conn.xadd::<_, _, _, _, String>("orders", "*", &[("item", "apple"), ("qty", "3")]);
    let id = opentelemetry::context::FutureExt::with_context(add, cx.clone())
        .await
        .unwrap();
    cx.span().end();

    // Two consumers of the group; the first reads the entry, the second finds nothing.
    let mut consumer = producer(&server, true).await;
    let options = redis::streams::StreamReadOptions::default()
        .group("billing", "worker-1")
        .count(10);
    let read: redis::streams::StreamReadReply = consumer
        .xread_options(&["orders"], &[">"], &options)
        .await
        .unwrap();
    let entry = &read.keys[0].ids[0];
    assert_eq!(entry.id, id);
    let fields: BTreeMap<&String, &redis::Value> = entry.map.iter().collect();
    assert_eq!(
        fields.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
        ["item", "qty"],
        "the carrier is removed"
    );
    let producer_context = consumer.producer_of(&id).expect("the entry's producer");
    messaging::process_entry("orders", &id, Some(producer_context.clone()), async {}).await;
    let _: i64 = consumer.xack("orders", "billing", &[&id]).await.unwrap();

    let mut second = producer(&server, true).await;
    let options = redis::streams::StreamReadOptions::default()
        .group("billing", "worker-2")
        .block(50);
    let empty: Option<redis::streams::StreamReadReply> = second
        .xread_options(&["orders"], &[">"], &options)
        .await
        .unwrap();
    assert!(empty.is_none_or(|reply| reply.keys.iter().all(|k| k.ids.is_empty())));

    let spans = capture.spans();
    let send = only(&spans, "XADD orders");
    assert_eq!(send.span_kind, SpanKind::Producer);
    assert_eq!(attributes(&send)["messaging.message.id"], text(&id));
    assert_eq!(attributes(&send)["messaging.operation.type"], text("send"));
    assert_eq!(producer_context.span_id(), send.span_context.span_id());

    let receives: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "XREADGROUP orders")
        .collect();
    assert_eq!(receives.len(), 1, "the empty poll records no span");
    let receive = receives[0];
    assert_eq!(receive.span_kind, SpanKind::Client);
    let recorded = attributes(receive);
    assert_eq!(recorded["messaging.operation.type"], text("receive"));
    assert_eq!(recorded["messaging.batch.message_count"], Value::I64(1));
    assert_eq!(
        recorded["db.namespace"],
        text("0"),
        "the database of the stream"
    );
    assert_eq!(recorded["messaging.consumer.group.name"], text("billing"));
    assert_eq!(receive.links.len(), 1);
    assert_eq!(
        receive.links[0].span_context.span_id(),
        send.span_context.span_id()
    );

    let process = only(&spans, "process orders");
    assert_eq!(process.span_kind, SpanKind::Consumer);
    assert_eq!(process.parent_span_id, send.span_context.span_id());
    assert_eq!(attributes(&process)["messaging.message.id"], text(&id));

    let settle = only(&spans, "XACK orders");
    assert_eq!(
        attributes(&settle)["messaging.operation.type"],
        text("settle")
    );
    assert_eq!(
        attributes(&settle)["messaging.consumer.group.name"],
        text("billing")
    );

    // The empty poll still counts in the duration histogram.
    let polls: u64 = capture
        .metric_points("db.client.operation.duration")
        .iter()
        .filter(|p| p.attributes["db.operation.name"] == text("XREADGROUP"))
        .map(|p| p.value)
        .sum();
    assert_eq!(polls, 2);
    let consumed: u64 = capture
        .metric_points("messaging.client.consumed.messages")
        .iter()
        .map(|p| p.value)
        .sum();
    assert_eq!(consumed, 1);
    let operations: BTreeMap<String, u64> = capture
        .metric_points("messaging.client.operation.duration")
        .into_iter()
        .map(
            |point| match &point.attributes["messaging.operation.name"] {
                Value::String(name) => (name.to_string(), point.value),
                other => panic!("{other:?}"),
            },
        )
        .fold(BTreeMap::new(), |mut sums, (name, n)| {
            *sums.entry(name).or_default() += n;
            sums
        });
    let expected: BTreeMap<String, u64> = [("XACK", 1), ("XADD", 1), ("XREADGROUP", 2)]
        .into_iter()
        .map(|(name, n)| (name.to_owned(), n))
        .collect();
    assert_eq!(operations, expected);
}

#[tokio::test]
async fn without_propagation_entries_and_payloads_are_unchanged() {
    let _capture = capture();
    let server = RedisServer::start();
    let mut conn = producer(&server, false).await;
    let id: String = conn.xadd("plain", "*", &[("k", "v")]).await.unwrap();
    let mut raw = server.connection(0).await;
    let read: redis::streams::StreamRangeReply = raw.xrange_all("plain").await.unwrap();
    assert_eq!(read.ids[0].id, id);
    assert_eq!(
        read.ids[0].map.len(),
        1,
        "no carrier fields without propagation"
    );
}

#[redis_trace::redis_traced(op = "XADD", key = "audit:{tenant}", name = "record event")]
async fn record_event(
    conn: &mut redis::aio::MultiplexedConnection,
    tenant: u64,
) -> redis::RedisResult<String> {
    conn.xadd(format!("audit:{tenant}"), "*", &[("event", "login")])
        .await
}

#[tokio::test]
async fn an_annotated_send_is_a_producer() {
    let capture = capture();
    let server = RedisServer::start();
    let mut conn = server.connection(0).await;
    record_event(&mut conn, 7).await.unwrap();
    let span = capture.span("record event");
    assert_eq!(span.span_kind, SpanKind::Producer);
    let recorded = attributes(&span);
    assert_eq!(recorded["messaging.system"], text("redis"));
    assert_eq!(recorded["messaging.operation.type"], text("send"));
    assert_eq!(recorded["messaging.operation.name"], text("XADD"));
    assert_eq!(recorded["redis.key"], text("audit:?"));
}

/// Sharded pub/sub on the real 3-master cluster: SPUBLISH through a traced cluster connection,
/// SSUBSCRIBE delivered by redis-rs's RESP3 push sender, the consumer continuing the trace.
#[tokio::test]
async fn a_sharded_message_on_the_cluster_continues_the_trace() {
    let capture = capture();
    let cluster = redis_trace_harness::RedisCluster::start(3);
    if !cluster.nodes()[0].at_least(7, 0, "SSUBSCRIBE and SPUBLISH") {
        return;
    }
    let (sender, mut pushes) = tokio::sync::mpsc::unbounded_channel();
    let subscriber = redis::cluster::ClusterClientBuilder::new(cluster.urls())
        .use_protocol(redis::ProtocolVersion::RESP3)
        .push_sender(sender)
        .build()
        .unwrap();
    let mut subscriber = subscriber.get_async_connection().await.unwrap();
    subscriber.ssubscribe("orders{eu}").await.unwrap();

    let client = redis::cluster::ClusterClient::new(cluster.urls()).unwrap();
    let mut conn = TracedConnection::new(client.get_async_connection().await.unwrap())
        .for_cluster()
        .with_propagation(true);
    let tracer = capture.tracer_provider().tracer("test");
    let cx = opentelemetry::Context::current_with_span(tracer.start("request"));
    let mut spublish = redis::cmd("SPUBLISH");
    spublish.arg("orders{eu}").arg(&b"\x00sharded"[..]);
    let publish = spublish.query_async::<i64>(&mut conn);
    opentelemetry::context::FutureExt::with_context(publish, cx.clone())
        .await
        .unwrap();
    cx.span().end();

    let message = loop {
        let push = pushes.recv().await.expect("a push");
        if let Some(message) = messaging::Message::from_push(push, MessageParent::Producer) {
            break message;
        }
    };
    assert_eq!(message.payload(), b"\x00sharded");
    assert_eq!(message.channel(), "orders{eu}");
    message.process(async {}).await;
    let spans = capture.spans();
    let send = only(&spans, "SPUBLISH orders{eu}");
    assert_eq!(send.span_kind, SpanKind::Producer);
    let process = only(&spans, "process orders{eu}");
    assert_eq!(process.parent_span_id, send.span_context.span_id());
    assert_eq!(
        process.links[0].span_context.span_id(),
        send.span_context.span_id()
    );
}

/// A consumer reading entries added 2 s earlier lags by 2 to 3 s: one histogram point per entry
/// and the batch's largest lag on the receive span; an explicit id records no lag.
#[tokio::test]
async fn a_stream_read_records_how_far_behind_it_is() {
    let capture = capture();
    let server = RedisServer::start();
    let client = server.client();
    let mut conn = TracedConnection::new(server.connection(0).await).with_endpoint(&client);
    redis_trace_harness::create_stream_group(&mut conn, "late", "billing").await;
    for order in ["1", "2"] {
        let _: String = conn.xadd("late", "*", &[("order", order)]).await.unwrap();
    }
    let _: String = conn
        .xadd("explicit", "1-1", &[("order", "3")])
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    capture.clear();

    let options = redis::streams::StreamReadOptions::default().group("billing", "worker");
    let read: redis::streams::StreamReadReply = conn
        .xread_options(&["late"], &[">"], &options)
        .await
        .unwrap();
    assert_eq!(read.keys[0].ids.len(), 2);
    let lags = capture.metric_points("redis.client.stream.lag");
    let [point] = lags.as_slice() else {
        panic!("one series: {lags:?}");
    };
    assert_eq!(point.value, 2, "one point per entry");
    assert!(
        (4.0..6.0).contains(&point.sum),
        "two lags of 2 to 3 s: {}",
        point.sum
    );
    assert_eq!(point.unit, "s");
    assert_eq!(point.attributes["messaging.destination.name"], text("late"));
    assert_eq!(
        point.attributes["messaging.consumer.group.name"],
        text("billing")
    );
    let receive = capture.span("XREADGROUP late");
    let Value::F64(max_lag) = attributes(&receive)["redis.stream.max_lag"] else {
        panic!("a max lag in seconds");
    };
    assert!((2.0..3.0).contains(&max_lag), "{max_lag}");

    // An explicit id is not a time: no lag, no attribute.
    capture.clear();
    let read: redis::streams::StreamReadReply = conn.xread(&["explicit"], &["0"]).await.unwrap();
    assert_eq!(read.keys[0].ids[0].id, "1-1");
    assert!(capture.metric_points("redis.client.stream.lag").is_empty());
    let receive = capture.span("XREAD explicit");
    assert!(!attributes(&receive).contains_key("redis.stream.max_lag"));
    assert_eq!(
        attributes(&receive)["db.namespace"],
        text("0"),
        "XREAD names its database"
    );
}

/// A RESP3 push subscription through a traced `MultiplexedConnection`: the `SUBSCRIBE` is a
/// command span, each pushed message becomes a `Message` whose `process` span continues the
/// producer's trace; `set_response_timeout` reaches the wrapped connection.
#[tokio::test]
async fn a_resp3_push_subscription_through_the_wrapper_continues_the_trace() {
    let capture = capture();
    let server = RedisServer::start();
    let client = redis::Client::open(format!("{}?protocol=resp3", server.url(0))).unwrap();
    let (pushes, mut received) = tokio::sync::mpsc::unbounded_channel();
    let config = redis::AsyncConnectionConfig::new().set_push_sender(pushes);
    let inner = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .unwrap();
    let mut subscriber = TracedConnection::new(inner).with_endpoint(server.client());
    subscriber.subscribe("orders").await.unwrap();
    let mut conn = producer(&server, true).await;
    publish(&capture, &mut conn, "orders", b"order 42").await;

    let message = loop {
        let push = received.recv().await.expect("a push");
        if let Some(message) = messaging::Message::from_push(push, MessageParent::Producer) {
            break message.with_endpoint(server.client());
        }
    };
    assert_eq!(message.payload(), b"order 42");
    message.process(async {}).await;

    let spans = capture.spans();
    let subscribe = only(&spans, &format!("SUBSCRIBE 127.0.0.1:{}", server.port()));
    assert_eq!(
        attributes(&subscribe)["db.operation.name"],
        text("SUBSCRIBE")
    );
    let send = only(&spans, "PUBLISH orders");
    let process = only(&spans, "process orders");
    assert_eq!(process.span_kind, SpanKind::Consumer);
    assert_eq!(process.parent_span_id, send.span_context.span_id());
    assert_eq!(
        process.span_context.trace_id(),
        send.span_context.trace_id()
    );

    // The response timeout set through the wrapper is the wrapped connection's: a 2 s BLPOP
    // gives up after 50 ms.
    let mut slow = TracedConnection::new(client.get_multiplexed_async_connection().await.unwrap());
    slow.set_response_timeout(std::time::Duration::from_millis(50));
    let started = std::time::Instant::now();
    let blocked: redis::RedisResult<Option<(String, String)>> = slow.blpop("empty", 2.0).await;
    assert!(blocked.is_err(), "timed out: {blocked:?}");
    assert!(started.elapsed() < std::time::Duration::from_millis(1500));
}

/// Blocking pub/sub through `TracedConnection<redis::Connection>::as_pubsub`: the message keeps
/// its payload and its `process` span continues the producer's trace, as with the async one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_pub_sub_continues_the_trace() {
    let capture = capture();
    let server = RedisServer::start();
    let client = server.client();
    let (subscribed, ready) = std::sync::mpsc::channel();
    let consumer = std::thread::spawn(move || {
        let mut conn = TracedConnection::connect_blocking(&client).unwrap();
        let mut pubsub = conn.as_pubsub();
        pubsub.subscribe("news").unwrap();
        pubsub
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        subscribed.send(()).unwrap();
        let message = pubsub.get_message().unwrap();
        let payload = message.payload().to_vec();
        message.process_blocking(|| ());
        payload
    });
    ready.recv().unwrap();
    let mut conn = producer(&server, true).await;
    publish(&capture, &mut conn, "news", b"hello").await;
    let payload = tokio::task::spawn_blocking(move || consumer.join().unwrap())
        .await
        .unwrap();
    assert_eq!(payload, b"hello");

    let spans = capture.spans();
    let send = only(&spans, "PUBLISH news");
    let process = only(&spans, "process news");
    assert_eq!(process.span_kind, SpanKind::Consumer);
    assert_eq!(process.parent_span_id, send.span_context.span_id());
    assert_eq!(
        attributes(&process)["messaging.destination.name"],
        text("news")
    );
    let consumed = capture.metric_points("messaging.client.consumed.messages");
    assert!(
        consumed
            .iter()
            .any(|point| point.attributes["messaging.destination.name"] == text("news")),
        "{consumed:?}"
    );
}

/// redis-rs's callback subscriptions (`PubSubCommands::subscribe` and `psubscribe`) on a traced
/// blocking connection: the callback runs under the message's `process` span, which continues
/// the producer's trace, and gets redis-rs's `Msg` with the payload as the producer gave it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_subscription_runs_each_message_under_its_process_span() {
    for by_pattern in [false, true] {
        callback_subscription(by_pattern).await;
    }
}

async fn callback_subscription(by_pattern: bool) {
    let capture = capture();
    let server = RedisServer::start();
    let client = server.client();
    let consumer = std::thread::spawn(move || {
        let mut conn = TracedConnection::connect_blocking(&client).unwrap();
        let callback = |msg: redis::Msg| {
            let current = opentelemetry::Context::current();
            let running_under = current.span().span_context().span_id();
            let payload: String = msg.get_payload().unwrap();
            let pattern: Option<String> = msg.get_pattern().unwrap();
            let channel = msg.get_channel_name().to_owned();
            redis::ControlFlow::Break((payload, channel, pattern, running_under))
        };
        match by_pattern {
            true => redis::PubSubCommands::psubscribe(&mut conn, "alert*", callback),
            false => redis::PubSubCommands::subscribe(&mut conn, "alerts", callback),
        }
        .unwrap()
    });
    // Publish once the subscription is in place (asked on an untraced connection).
    let mut plain = server.connection(0).await;
    loop {
        let (kind, argument) = match by_pattern {
            true => ("NUMPAT", None),
            false => ("NUMSUB", Some("alerts")),
        };
        let reply: redis::Value = redis::cmd("PUBSUB")
            .arg(kind)
            .arg(argument)
            .query_async(&mut plain)
            .await
            .unwrap();
        let subscribed = match reply {
            redis::Value::Int(patterns) => patterns == 1,
            redis::Value::Array(pair) => pair.get(1) == Some(&redis::Value::Int(1)),
            other => panic!("PUBSUB {kind}: {other:?}"),
        };
        if subscribed {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let mut conn = producer(&server, true).await;
    publish(&capture, &mut conn, "alerts", b"disk full").await;
    let (payload, channel, pattern, running_under) =
        tokio::task::spawn_blocking(move || consumer.join().unwrap())
            .await
            .unwrap();
    assert_eq!(
        (payload.as_str(), channel.as_str()),
        ("disk full", "alerts")
    );
    assert_eq!(pattern.as_deref(), by_pattern.then_some("alert*"));

    let spans = capture.spans();
    let send = only(&spans, "PUBLISH alerts");
    let process = only(&spans, "process alerts");
    assert_eq!(process.span_kind, SpanKind::Consumer);
    assert_eq!(process.parent_span_id, send.span_context.span_id());
    assert_eq!(
        running_under,
        process.span_context.span_id(),
        "the callback ran in it"
    );
}

/// A `ConnectionManager` subscribes through the wrapper too (it resubscribes after a
/// reconnect): the pushed message continues the producer's trace.
#[tokio::test]
async fn a_connection_manager_subscription_through_the_wrapper_continues_the_trace() {
    let capture = capture();
    let server = RedisServer::start();
    let client = redis::Client::open(format!("{}?protocol=resp3", server.url(0))).unwrap();
    let (pushes, mut received) = tokio::sync::mpsc::unbounded_channel();
    let config = redis::aio::ConnectionManagerConfig::new().set_push_sender(pushes);
    let manager = redis::aio::ConnectionManager::new_with_config(client, config)
        .await
        .unwrap();
    let mut subscriber = TracedConnection::new(manager).with_endpoint(server.client());
    subscriber.psubscribe("orders.*").await.unwrap();
    let mut conn = producer(&server, true).await;
    publish(&capture, &mut conn, "orders.eu", b"order 7").await;

    let message = loop {
        let push = received.recv().await.expect("a push");
        if let Some(message) = messaging::Message::from_push(push, MessageParent::Producer) {
            break message;
        }
    };
    assert_eq!(message.payload(), b"order 7");
    assert_eq!(message.pattern(), Some("orders.*"));
    message.process(async {}).await;

    let spans = capture.spans();
    let subscribe = only(&spans, &format!("PSUBSCRIBE 127.0.0.1:{}", server.port()));
    assert_eq!(
        attributes(&subscribe)["db.operation.name"],
        text("PSUBSCRIBE")
    );
    let send = only(&spans, "PUBLISH orders.eu");
    let process = only(&spans, "process orders.eu");
    assert_eq!(process.parent_span_id, send.span_context.span_id());
    assert_eq!(
        attributes(&process)["messaging.destination.template"],
        text("orders.*")
    );
}

/// RESP3 pub/sub on a blocking connection through the wrapper: `subscribe_resp3` is a command
/// span, the pushed message continues the producer's trace under `process_blocking`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_resp3_subscription_continues_the_trace() {
    let capture = capture();
    let server = RedisServer::start();
    let client = redis::Client::open(format!("{}?protocol=resp3", server.url(0))).unwrap();
    let (subscribed, ready) = std::sync::mpsc::channel();
    let port = server.port();
    let consumer = std::thread::spawn(move || {
        let mut conn = TracedConnection::connect_blocking(&client).unwrap();
        let (pushes, received) = std::sync::mpsc::channel();
        conn.set_push_sender(pushes);
        conn.subscribe_resp3("alerts").unwrap();
        subscribed.send(()).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            // Pushes are read as the connection reads: ask it something until one arrives.
            let _: redis::RedisResult<String> = redis::cmd("PING").query(&mut conn);
            if let Ok(push) = received.recv_timeout(std::time::Duration::from_millis(50)) {
                if let Some(message) = messaging::Message::from_push(push, MessageParent::Producer)
                {
                    let message =
                        message.with_endpoint(redis_trace::Endpoint::tcp("127.0.0.1", port));
                    message.process_blocking(|| ());
                    return message.payload().to_vec();
                }
            }
            assert!(std::time::Instant::now() < deadline, "no message pushed");
        }
    });
    ready.recv().unwrap();
    let mut conn = producer(&server, true).await;
    publish(&capture, &mut conn, "alerts", b"disk full").await;
    let payload = tokio::task::spawn_blocking(move || consumer.join().unwrap())
        .await
        .unwrap();
    assert_eq!(payload, b"disk full");

    let spans = capture.spans();
    let subscribe = only(&spans, &format!("SUBSCRIBE 127.0.0.1:{}", server.port()));
    assert_eq!(
        attributes(&subscribe)["db.operation.name"],
        text("SUBSCRIBE")
    );
    let send = only(&spans, "PUBLISH alerts");
    let process = only(&spans, "process alerts");
    assert_eq!(process.parent_span_id, send.span_context.span_id());
}
