//! The wrapped connection types' own methods, reached without leaving the wrapper: their
//! settings forwarded as they are, their subscriptions traced like commands, blocking pub/sub
//! with its CONSUMER spans. There is no `Deref` to the inner connection on purpose: a method
//! found through it would send commands untraced without a word.

use std::time::Duration;

use redis::{RedisFuture, RedisResult, ToRedisArgs, Value};

use super::{describe, TracedConnection};
use crate::args::Call;
use crate::operation::Operation;

/// The redis-rs connections that send RESP3 subscriptions themselves (waiting for every
/// confirmation): `MultiplexedConnection`, and `ConnectionManager` (feature
/// `connection-manager`), which also subscribes again after a reconnect. Not for users to
/// implement.
pub trait Resp3Subscriber: Send {
    /// Sends `kind` for `args` through the connection's own method.
    #[doc(hidden)]
    fn send_subscription(&mut self, kind: Subscription, args: Vec<Vec<u8>>) -> RedisFuture<'_, ()>;
}

/// The RESP3 subscription commands.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub enum Subscription {
    Subscribe,
    PSubscribe,
    Unsubscribe,
    PUnsubscribe,
}

impl Subscription {
    fn name(self) -> &'static str {
        match self {
            Self::Subscribe => "SUBSCRIBE",
            Self::PSubscribe => "PSUBSCRIBE",
            Self::Unsubscribe => "UNSUBSCRIBE",
            Self::PUnsubscribe => "PUNSUBSCRIBE",
        }
    }
}

impl<C> TracedConnection<C> {
    /// The command span of a subscription sent by the wrapped connection's own method.
    fn start_subscription(&self, kind: Subscription, args: &[Vec<u8>]) -> Operation {
        let cmd = redis::cmd(kind.name()).arg(args).clone();
        Operation::start_command(
            || Call::of(&cmd),
            |call, config, spec| describe::command(call, None, config, spec),
            describe::command_statement,
            self.endpoint.as_ref(),
            self.peer.as_ref(),
        )
    }
}

/// Ends a subscription's span: the method returns `()` for the server's confirmations.
fn finish_subscription(operation: Operation, sent: &RedisResult<()>) {
    operation.finish_replies(&sent.as_ref().map(|()| Value::Okay).map_err(Clone::clone));
}

/// Both connection types name their methods alike, without a trait of redis-rs's own.
macro_rules! resp3_subscriber {
    ($connection:ty) => {
        impl Resp3Subscriber for $connection {
            fn send_subscription(
                &mut self,
                kind: Subscription,
                args: Vec<Vec<u8>>,
            ) -> RedisFuture<'_, ()> {
                match kind {
                    Subscription::Subscribe => Box::pin(self.subscribe(args)),
                    Subscription::PSubscribe => Box::pin(self.psubscribe(args)),
                    Subscription::Unsubscribe => Box::pin(self.unsubscribe(args)),
                    Subscription::PUnsubscribe => Box::pin(self.punsubscribe(args)),
                }
            }
        }
    };
}

resp3_subscriber!(redis::aio::MultiplexedConnection);
#[cfg(feature = "connection-manager")]
resp3_subscriber!(redis::aio::ConnectionManager);

impl TracedConnection<redis::aio::MultiplexedConnection> {
    /// `MultiplexedConnection::set_response_timeout`.
    pub fn set_response_timeout(&mut self, timeout: Duration) {
        self.inner.set_response_timeout(timeout);
    }
}

impl<C: Resp3Subscriber> TracedConnection<C> {
    /// `SUBSCRIBE` on a RESP3 connection, traced like any command: messages arrive on the
    /// connection's push sender; [`crate::messaging::Message::from_push`] turns each into a
    /// message with its CONSUMER span.
    pub async fn subscribe(&mut self, channel: impl ToRedisArgs) -> RedisResult<()> {
        self.subscription(Subscription::Subscribe, channel.to_redis_args())
            .await
    }

    /// `PSUBSCRIBE` on a RESP3 connection (see [`TracedConnection::subscribe`]).
    pub async fn psubscribe(&mut self, pattern: impl ToRedisArgs) -> RedisResult<()> {
        self.subscription(Subscription::PSubscribe, pattern.to_redis_args())
            .await
    }

    /// `UNSUBSCRIBE` on a RESP3 connection.
    pub async fn unsubscribe(&mut self, channel: impl ToRedisArgs) -> RedisResult<()> {
        self.subscription(Subscription::Unsubscribe, channel.to_redis_args())
            .await
    }

    /// `PUNSUBSCRIBE` on a RESP3 connection.
    pub async fn punsubscribe(&mut self, pattern: impl ToRedisArgs) -> RedisResult<()> {
        self.subscription(Subscription::PUnsubscribe, pattern.to_redis_args())
            .await
    }

    /// One of the subscription commands, sent by redis-rs's own method (which waits for every
    /// confirmation) under a command span.
    async fn subscription(&mut self, kind: Subscription, args: Vec<Vec<u8>>) -> RedisResult<()> {
        let mut operation = self.start_subscription(kind, &args);
        let sent = operation
            .instrument(self.inner.send_subscription(kind, args))
            .await;
        finish_subscription(operation, &sent);
        sent
    }
}

impl TracedConnection<redis::Connection> {
    /// Pub/sub on this blocking connection: messages come back with their CONSUMER spans, as
    /// with the async [`crate::messaging::TracedPubSub`].
    pub fn as_pubsub(&mut self) -> crate::messaging::TracedBlockingPubSub<'_> {
        crate::messaging::TracedBlockingPubSub::new(self.inner.as_pubsub(), self.endpoint.clone())
    }

    /// `redis::Connection::set_push_sender`: where RESP3 pushes (pub/sub messages) go; turn
    /// each into a traced message with [`crate::messaging::Message::from_push`].
    pub fn set_push_sender(&mut self, sender: std::sync::mpsc::Sender<redis::PushInfo>) {
        self.inner.set_push_sender(sender);
    }

    /// `SUBSCRIBE` on a RESP3 blocking connection with a push sender, traced like a command.
    pub fn subscribe_resp3(&mut self, channel: impl ToRedisArgs) -> RedisResult<()> {
        self.blocking_subscription(Subscription::Subscribe, channel.to_redis_args())
    }

    /// `PSUBSCRIBE` on a RESP3 blocking connection (see [`TracedConnection::subscribe_resp3`]).
    pub fn psubscribe_resp3(&mut self, pattern: impl ToRedisArgs) -> RedisResult<()> {
        self.blocking_subscription(Subscription::PSubscribe, pattern.to_redis_args())
    }

    /// `UNSUBSCRIBE` on a RESP3 blocking connection.
    pub fn unsubscribe_resp3(&mut self, channel: impl ToRedisArgs) -> RedisResult<()> {
        self.blocking_subscription(Subscription::Unsubscribe, channel.to_redis_args())
    }

    /// `PUNSUBSCRIBE` on a RESP3 blocking connection.
    pub fn punsubscribe_resp3(&mut self, pattern: impl ToRedisArgs) -> RedisResult<()> {
        self.blocking_subscription(Subscription::PUnsubscribe, pattern.to_redis_args())
    }

    /// One subscription command, sent by redis-rs's own method under a command span.
    fn blocking_subscription(&mut self, kind: Subscription, args: Vec<Vec<u8>>) -> RedisResult<()> {
        let operation = self.start_subscription(kind, &args);
        let inner = &mut self.inner;
        let sent = match kind {
            Subscription::Subscribe => inner.subscribe_resp3(args),
            Subscription::PSubscribe => inner.psubscribe_resp3(args),
            Subscription::Unsubscribe => inner.unsubscribe_resp3(args),
            Subscription::PUnsubscribe => inner.punsubscribe_resp3(args),
        };
        finish_subscription(operation, &sent);
        sent
    }

    /// `redis::Connection::set_read_timeout`.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> RedisResult<()> {
        self.inner.set_read_timeout(timeout)
    }

    /// `redis::Connection::set_write_timeout`.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> RedisResult<()> {
        self.inner.set_write_timeout(timeout)
    }
}

/// redis-rs's callback subscriptions on a blocking connection: each message runs the callback
/// under its CONSUMER `process` span (as [`crate::messaging::Message::process_blocking`]), and the
/// callback receives the payload as the producer gave it.
impl redis::PubSubCommands for TracedConnection<redis::Connection> {
    fn subscribe<C, F, U>(&mut self, channels: C, func: F) -> RedisResult<U>
    where
        F: FnMut(redis::Msg) -> redis::ControlFlow<U>,
        C: ToRedisArgs,
    {
        let mut pubsub = self.as_pubsub();
        pubsub.subscribe(channels)?;
        deliver_until_break(pubsub, func)
    }

    fn psubscribe<P, F, U>(&mut self, patterns: P, func: F) -> RedisResult<U>
    where
        F: FnMut(redis::Msg) -> redis::ControlFlow<U>,
        P: ToRedisArgs,
    {
        let mut pubsub = self.as_pubsub();
        pubsub.psubscribe(patterns)?;
        deliver_until_break(pubsub, func)
    }
}

fn deliver_until_break<U>(
    mut pubsub: crate::messaging::TracedBlockingPubSub<'_>,
    mut func: impl FnMut(redis::Msg) -> redis::ControlFlow<U>,
) -> RedisResult<U> {
    loop {
        let message = pubsub.get_message()?;
        if let redis::ControlFlow::Break(value) = message.process_msg(&mut func) {
            return Ok(value);
        }
    }
}
