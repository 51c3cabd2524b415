//! The pub/sub consumer: redis-rs's async `PubSub` (and its blocking one), each message handled
//! under a CONSUMER span.

use std::future::Future;

use futures_util::{Stream, StreamExt as _};
use opentelemetry::trace::SpanContext;
use redis::{FromRedisValue, RedisResult, ToRedisArgs, Value};

use super::envelope;
use super::process::{Delivery, MessageParent, Producer};
use crate::endpoint::{Endpoint, ToEndpoint};

/// redis-rs's async [`redis::aio::PubSub`], whose messages come back with their original
/// payload and run their handler under a CONSUMER span.
///
/// ```no_run
/// # async fn run() -> redis::RedisResult<()> {
/// use futures_util::StreamExt as _;
/// use redis_trace::messaging::TracedPubSub;
///
/// let client = redis::Client::open("redis://127.0.0.1/")?;
/// let mut pubsub = TracedPubSub::new(client.get_async_pubsub().await?).with_endpoint(&client);
/// pubsub.subscribe("orders").await?;
/// let mut messages = pubsub.into_messages();
/// while let Some(message) = messages.next().await {
///     message.process(async { println!("{:?}", message.payload()) }).await;
/// }
/// # Ok(()) }
/// ```
pub struct TracedPubSub {
    inner: redis::aio::PubSub,
    endpoint: Option<Endpoint>,
    parent: MessageParent,
}

impl TracedPubSub {
    /// Wraps `pubsub`.
    pub fn new(pubsub: redis::aio::PubSub) -> Self {
        Self {
            inner: pubsub,
            endpoint: None,
            parent: MessageParent::default(),
        }
    }

    /// Records `endpoint` as `server.address` and `server.port` on the spans.
    #[must_use]
    pub fn with_endpoint(mut self, endpoint: impl ToEndpoint) -> Self {
        self.endpoint = Some(endpoint.to_endpoint());
        self
    }

    /// Which context `process` spans continue (default: the producer's).
    #[must_use]
    pub fn with_parent(mut self, parent: MessageParent) -> Self {
        self.parent = parent;
        self
    }

    /// `SUBSCRIBE`.
    pub async fn subscribe(&mut self, channel: impl ToRedisArgs) -> RedisResult<()> {
        self.inner.subscribe(channel).await
    }

    /// `PSUBSCRIBE`: messages carry the pattern as `messaging.destination.template`.
    pub async fn psubscribe(&mut self, pattern: impl ToRedisArgs) -> RedisResult<()> {
        self.inner.psubscribe(pattern).await
    }

    /// The wrapped `PubSub` (to unsubscribe, ping, ...).
    pub fn get_mut(&mut self) -> &mut redis::aio::PubSub {
        &mut self.inner
    }

    /// The messages; each one counts in `messaging.client.consumed.messages` when it arrives.
    pub fn into_messages(self) -> impl Stream<Item = Message> + Send {
        let (endpoint, parent) = (self.endpoint, self.parent);
        self.inner.into_on_message().map(move |msg| {
            let message = Message::new(msg, endpoint.clone(), parent);
            message.delivery.count_consumed();
            message
        })
    }
}

/// One pub/sub message: its original payload, and the producer's trace context if its
/// envelope carried one.
#[derive(Debug)]
pub struct Message {
    msg: redis::Msg,
    /// Where the original payload starts in `msg`'s payload (after the envelope).
    payload_start: usize,
    delivery: Delivery,
}

impl Message {
    fn new(msg: redis::Msg, endpoint: Option<Endpoint>, parent: MessageParent) -> Self {
        let bytes = msg.get_payload_bytes();
        let (payload, carrier) = envelope::split(bytes);
        let producer = match carrier {
            Some(carrier) => Producer::Carried(carrier.to_vec(), std::sync::OnceLock::new()),
            None => Producer::Known(None),
        };
        let payload_start = bytes.len() - payload.len();
        let template = msg.from_pattern().then(|| msg.get_pattern().ok()).flatten();
        let delivery = Delivery {
            destination: msg.get_channel_name().as_bytes().to_vec(),
            template,
            id: None,
            body_size: Some(payload.len()),
            producer,
            parent,
            endpoint,
            rendered: std::sync::OnceLock::new(),
        };
        Self {
            msg,
            payload_start,
            delivery,
        }
    }

    /// A message a RESP3 push sender received: sharded pub/sub (`SSUBSCRIBE` on a cluster
    /// connection built with `.use_protocol(RESP3).push_sender(..)`), or pub/sub on a
    /// multiplexed connection. `None` for other pushes. Counts in
    /// `messaging.client.consumed.messages`.
    pub fn from_push(push: redis::PushInfo, parent: MessageParent) -> Option<Self> {
        let message = Self::new(redis::Msg::from_push_info(push)?, None, parent);
        message.delivery.count_consumed();
        Some(message)
    }

    /// Records `endpoint` as `server.address` and `server.port` on its `process` span.
    #[must_use]
    pub fn with_endpoint(mut self, endpoint: impl ToEndpoint) -> Self {
        self.delivery.endpoint = Some(endpoint.to_endpoint());
        self
    }

    /// The payload as the producer gave it (without the envelope).
    pub fn payload(&self) -> &[u8] {
        &self.msg.get_payload_bytes()[self.payload_start..]
    }

    /// The channel it was published on.
    pub fn channel(&self) -> &str {
        self.msg.get_channel_name()
    }

    /// The pattern it matched, for `PSUBSCRIBE`.
    pub fn pattern(&self) -> Option<&str> {
        self.delivery.template.as_deref()
    }

    /// The producer's span context, if the message carried a valid one.
    pub fn producer(&self) -> Option<&SpanContext> {
        self.delivery.producer.get()
    }

    /// `redis::Msg::get_payload`: the payload as the producer gave it, converted.
    pub fn get_payload<T: FromRedisValue>(&self) -> RedisResult<T> {
        if self.payload_start == 0 {
            return self.msg.get_payload();
        }
        let payload = Value::BulkString(self.payload().to_vec());
        Ok(redis::from_redis_value_ref(&payload)?)
    }

    /// `redis::Msg::get_payload_bytes`: [`Message::payload`].
    pub fn get_payload_bytes(&self) -> &[u8] {
        self.payload()
    }

    /// `redis::Msg::get_channel`: the channel, converted.
    pub fn get_channel<T: FromRedisValue>(&self) -> RedisResult<T> {
        self.msg.get_channel()
    }

    /// `redis::Msg::get_channel_name`: [`Message::channel`].
    pub fn get_channel_name(&self) -> &str {
        self.channel()
    }

    /// `redis::Msg::from_pattern`: whether it came through a `PSUBSCRIBE`.
    pub fn from_pattern(&self) -> bool {
        self.msg.from_pattern()
    }

    /// `redis::Msg::get_pattern`: the pattern it matched, converted (`Nil` without one).
    pub fn get_pattern<T: FromRedisValue>(&self) -> RedisResult<T> {
        self.msg.get_pattern()
    }

    /// The message as redis-rs's `Msg`, its payload without the envelope.
    pub fn into_msg(self) -> redis::Msg {
        self.into_parts().0
    }

    /// Runs `handle` on the message as redis-rs's `Msg` under its `process` span (the callback
    /// subscriptions of [`redis::PubSubCommands`]).
    pub(crate) fn process_msg<R>(self, handle: impl FnOnce(redis::Msg) -> R) -> R {
        let (msg, delivery) = self.into_parts();
        delivery.process_blocking(|| handle(msg))
    }

    fn into_parts(self) -> (redis::Msg, Delivery) {
        if self.payload_start == 0 {
            return (self.msg, self.delivery);
        }
        // The channel and pattern as received, bytes and all.
        let raw = |value: RedisResult<Vec<u8>>| Value::BulkString(value.unwrap_or_default());
        let payload = Value::BulkString(self.payload().to_vec());
        let channel = raw(self.msg.get_channel());
        let parts = match self.msg.from_pattern() {
            true => vec![
                Value::BulkString(b"pmessage".to_vec()),
                raw(self.msg.get_pattern()),
                channel,
                payload,
            ],
            false => vec![Value::BulkString(b"message".to_vec()), channel, payload],
        };
        match redis::Msg::from_owned_value(Value::Array(parts)) {
            Some(msg) => (msg, self.delivery),
            // Not reached (both shapes are messages); the message as received is still whole.
            None => (self.msg, self.delivery),
        }
    }

    /// Runs `handle` under a CONSUMER span `process {channel}`, the current context while it
    /// runs, linked to the producer's span (and its child, unless `MessageParent::Current`).
    /// Records `messaging.process.duration`.
    pub async fn process<F: Future>(&self, handle: F) -> F::Output {
        self.delivery.process(handle).await
    }

    /// [`Message::process`] for a blocking handler (the messages of [`TracedBlockingPubSub`]).
    pub fn process_blocking<R>(&self, handle: impl FnOnce() -> R) -> R {
        self.delivery.process_blocking(handle)
    }
}

/// redis-rs's blocking [`redis::PubSub`] (from `TracedConnection<redis::Connection>::as_pubsub`),
/// whose messages come back as [`Message`]s: their original payload, the producer's trace
/// context, a CONSUMER span around [`Message::process_blocking`], the same attributes and
/// metrics as [`TracedPubSub`].
///
/// ```no_run
/// # fn run() -> redis::RedisResult<()> {
/// use redis_trace::TracedConnection;
///
/// let client = redis::Client::open("redis://127.0.0.1/")?;
/// let mut conn = TracedConnection::connect_blocking(&client)?;
/// let mut pubsub = conn.as_pubsub();
/// pubsub.subscribe("orders")?;
/// let message = pubsub.get_message()?;
/// message.process_blocking(|| println!("{:?}", message.payload()));
/// # Ok(()) }
/// ```
pub struct TracedBlockingPubSub<'a> {
    inner: redis::PubSub<'a>,
    endpoint: Option<Endpoint>,
    parent: MessageParent,
}

impl<'a> TracedBlockingPubSub<'a> {
    /// Wraps `pubsub`; its spans carry `endpoint`.
    pub fn new(pubsub: redis::PubSub<'a>, endpoint: Option<Endpoint>) -> Self {
        Self {
            inner: pubsub,
            endpoint,
            parent: MessageParent::default(),
        }
    }

    /// Which context `process` spans continue (default: the producer's).
    #[must_use]
    pub fn with_parent(mut self, parent: MessageParent) -> Self {
        self.parent = parent;
        self
    }

    /// `SUBSCRIBE`.
    pub fn subscribe(&mut self, channel: impl ToRedisArgs) -> RedisResult<()> {
        self.inner.subscribe(channel)
    }

    /// `PSUBSCRIBE`: messages carry the pattern as `messaging.destination.template`.
    pub fn psubscribe(&mut self, pattern: impl ToRedisArgs) -> RedisResult<()> {
        self.inner.psubscribe(pattern)
    }

    /// `UNSUBSCRIBE`.
    pub fn unsubscribe(&mut self, channel: impl ToRedisArgs) -> RedisResult<()> {
        self.inner.unsubscribe(channel)
    }

    /// `PUNSUBSCRIBE`.
    pub fn punsubscribe(&mut self, pattern: impl ToRedisArgs) -> RedisResult<()> {
        self.inner.punsubscribe(pattern)
    }

    /// The next message (blocking, up to the read timeout); it counts in
    /// `messaging.client.consumed.messages`.
    pub fn get_message(&mut self) -> RedisResult<Message> {
        let message = Message::new(
            self.inner.get_message()?,
            self.endpoint.clone(),
            self.parent,
        );
        message.delivery.count_consumed();
        Ok(message)
    }

    /// `PING` on the subscribed connection (a pub/sub `pong`).
    pub fn ping<T: FromRedisValue>(&mut self) -> RedisResult<T> {
        self.inner.ping()
    }

    /// `PING message` on the subscribed connection.
    pub fn ping_message<T: FromRedisValue>(&mut self, message: impl ToRedisArgs) -> RedisResult<T> {
        self.inner.ping_message(message)
    }

    /// How long `get_message` waits (`None`: forever).
    pub fn set_read_timeout(&self, timeout: Option<std::time::Duration>) -> RedisResult<()> {
        self.inner.set_read_timeout(timeout)
    }

    /// The wrapped `PubSub`.
    pub fn get_mut(&mut self) -> &mut redis::PubSub<'a> {
        &mut self.inner
    }
}
