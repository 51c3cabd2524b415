//! A producer task and a consumer task on separate connections, one pub/sub message and one
//! stream entry, with trace context carried from producer to consumer: one trace tree that
//! spans both sides.
//!
//! ```text
//! cargo run --example messaging     # REDIS_URL, else 127.0.0.1:6379, else a private redis-server
//! ```
//!
//! To run it in your own project, copy it with `examples/support/mod.rs` (std and redis only);
//! redis-trace features: `testing`.
//!
//! Keys and channels are prefixed `redis-trace-messaging:`; the stream is deleted at the end.

use futures_util::StreamExt as _;
use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider as _};
use redis::AsyncCommands;
use redis_trace::messaging::{self, TracedPubSub};
use redis_trace::testing::Telemetry;
use redis_trace::TracedConnection;

mod support;

const CHANNEL: &str = "redis-trace-messaging:orders";
const STREAM: &str = "redis-trace-messaging:invoices";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let telemetry = Telemetry::install();
    let redis = support::redis()?;
    let client = redis.client.clone();

    // The consumer side: subscribed before anything is published.
    let mut pubsub = TracedPubSub::new(client.get_async_pubsub().await?).with_endpoint(&client);
    pubsub.subscribe(CHANNEL).await?;
    let mut messages = pubsub.into_messages();
    let mut consumer = TracedConnection::new(client.get_multiplexed_async_connection().await?)
        .with_endpoint(&client)
        .with_propagation(true);
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(STREAM)
        .arg("billing")
        .arg("$")
        .arg("MKSTREAM")
        .query_async(&mut consumer)
        .await?;

    // The producer: its own connection, propagation on, under a request span.
    let producer_client = client.clone();
    let producer = tokio::spawn(async move {
        let mut conn =
            TracedConnection::new(producer_client.get_multiplexed_async_connection().await?)
                .with_endpoint(&producer_client)
                .with_propagation(true);
        let tracer = opentelemetry::global::tracer_provider().tracer("shop");
        let cx = opentelemetry::Context::current_with_span(tracer.start("place order"));
        let work = async {
            let _: i64 = conn.publish(CHANNEL, "order 42 placed").await?;
            let id: String = conn
                .xadd(STREAM, "*", &[("order", "42"), ("total", "19.90")])
                .await?;
            Ok::<_, redis::RedisError>(id)
        };
        let id = opentelemetry::context::FutureExt::with_context(work, cx.clone()).await?;
        cx.span().end();
        Ok::<_, redis::RedisError>(id)
    });

    // The consumer: the pub/sub message, then the stream entry through the group.
    if let Some(message) = messages.next().await {
        message
            .process(async {
                println!(
                    "pub/sub message: {}",
                    String::from_utf8_lossy(message.payload())
                );
            })
            .await;
    }
    let sent_id = producer.await??;
    // A consumer that falls behind: the receive span says by how much (`redis.stream.max_lag`,
    // seconds) and `redis.client.stream.lag` records each entry's lag.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let options = redis::streams::StreamReadOptions::default()
        .group("billing", "worker-1")
        .count(10);
    let read: redis::streams::StreamReadReply =
        consumer.xread_options(&[STREAM], &[">"], &options).await?;
    for entry in read.keys.iter().flat_map(|key| &key.ids) {
        let producer = consumer.producer_of(&entry.id);
        messaging::process_entry(STREAM, &entry.id, producer, async {
            println!(
                "stream entry {} (sent as {sent_id}): {:?}",
                entry.id,
                entry.map.keys().collect::<Vec<_>>()
            );
        })
        .await;
        let _: i64 = consumer.xack(STREAM, "billing", &[&entry.id]).await?;
    }
    let _: usize = consumer.del(STREAM).await?;

    println!();
    telemetry.view().print();
    // Per key pattern: calls, errors, p50, p99, cache hit ratio.
    println!();
    print!("{}", telemetry.patterns());
    Ok(())
}
