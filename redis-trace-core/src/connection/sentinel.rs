//! Redis Sentinel: traced connections to the server a Sentinel names, carrying its address.

use redis::sentinel::SentinelClient;
use redis::RedisResult;

use super::TracedConnection;

/// A redis-rs [`SentinelClient`] whose connections are traced and whose spans carry the address
/// of the server the Sentinels name at connection time (the current master, or a replica).
///
/// redis-rs does not move a connection to a new master after a failover: its commands fail
/// (Sentinel closes the clients of a demoted master). Ask for a new connection then, as with a
/// plain `SentinelClient`; its spans carry the new master's address.
///
/// ```no_run
/// # async fn run() -> redis::RedisResult<()> {
/// use redis::sentinel::{SentinelClient, SentinelServerType};
/// use redis_trace::TracedSentinelClient;
///
/// let sentinels = vec!["redis://127.0.0.1:26379"];
/// let client = SentinelClient::build(sentinels, "mymaster".into(), None, SentinelServerType::Master)?;
/// let mut sentinel = TracedSentinelClient::new(client);
/// let mut conn = sentinel.get_async_connection().await?; // spans: the master's address
/// # Ok(()) }
/// ```
pub struct TracedSentinelClient {
    client: SentinelClient,
}

impl TracedSentinelClient {
    /// Wraps `client`.
    pub fn new(client: SentinelClient) -> Self {
        Self { client }
    }

    /// A traced multiplexed connection to the server the Sentinels name now.
    pub async fn get_async_connection(
        &mut self,
    ) -> RedisResult<TracedConnection<redis::aio::MultiplexedConnection>> {
        let server = self.client.async_get_client().await?;
        let connection = server.get_multiplexed_async_connection().await?;
        Ok(TracedConnection::new(connection).with_endpoint(&server))
    }

    /// A traced blocking connection to the server the Sentinels name now.
    pub fn get_connection(&mut self) -> RedisResult<TracedConnection<redis::Connection>> {
        let server = self.client.get_client()?;
        let connection = server.get_connection()?;
        Ok(TracedConnection::new(connection).with_endpoint(&server))
    }

    /// The wrapped client.
    pub fn get_mut(&mut self) -> &mut SentinelClient {
        &mut self.client
    }

    /// Unwraps the client.
    pub fn into_inner(self) -> SentinelClient {
        self.client
    }
}
