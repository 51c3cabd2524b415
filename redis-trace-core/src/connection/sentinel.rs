//! Redis Sentinel: traced connections to the server a Sentinel names, carrying its address.

use redis::sentinel::SentinelClient;
use redis::RedisResult;

use super::TracedConnection;
use crate::endpoint::{Endpoint, ToEndpoint};

/// A redis-rs [`SentinelClient`] whose connections are traced; their spans carry the configured
/// Sentinels (see [`TracedSentinelClient::with_endpoint`]) and the server the Sentinels named at
/// connection time (the current master, or a replica) as the peer.
///
/// redis-rs does not move a connection to a new master after a failover: its commands fail
/// (Sentinel closes the clients of a demoted master). Ask for a new connection then, as with a
/// plain `SentinelClient`; its spans carry the new master's address.
///
/// ```no_run
/// # async fn run() -> redis::RedisResult<()> {
/// use redis::sentinel::{SentinelClient, SentinelServerType};
/// use redis_trace::{Endpoint, TracedSentinelClient};
///
/// let urls = ["redis://127.0.0.1:26379", "redis://127.0.0.1:26380"];
/// let client = SentinelClient::build(urls.to_vec(), "mymaster".into(), None, SentinelServerType::Master)?;
/// let sentinels: Vec<redis::ConnectionInfo> = urls.iter().map(|url| url.parse()).collect::<Result<_, _>>()?;
/// let mut sentinel = TracedSentinelClient::new(client)
///     .with_endpoint(Endpoint::sentinels(&sentinels, "mymaster"));
/// let mut conn = sentinel.get_async_connection().await?;
/// // spans: server.address "127.0.0.1:26379,127.0.0.1:26380/mymaster", the master in network.peer.*
/// # Ok(()) }
/// ```
pub struct TracedSentinelClient {
    client: SentinelClient,
    /// The configured target, `Endpoint::sentinels(..)`, when given.
    target: Option<Endpoint>,
}

impl TracedSentinelClient {
    /// Wraps `client`.
    pub fn new(client: SentinelClient) -> Self {
        Self {
            client,
            target: None,
        }
    }

    /// Records `target` as `server.address` of every span, and the server the Sentinels name as
    /// `network.peer.*` (the conventions' rule for a client configured with several
    /// endpoints): pass `Endpoint::sentinels(&sentinel_urls, master_name)`. Without it, spans
    /// carry the named server in `server.*`.
    #[must_use]
    pub fn with_endpoint(mut self, target: impl ToEndpoint) -> Self {
        self.target = Some(target.to_endpoint());
        self
    }

    /// `connection` traced, carrying the target and `server` as this client records them.
    fn traced<C>(&self, connection: C, server: &redis::Client) -> TracedConnection<C> {
        match &self.target {
            Some(target) => {
                // The served server's database, the Sentinels' list as the address.
                let served = server.to_endpoint();
                let target = match served.database() {
                    Some(database) => target.clone().with_database(database),
                    None => target.clone(),
                };
                TracedConnection::new(connection)
                    .with_endpoint(target)
                    .with_peer(served)
            }
            None => TracedConnection::new(connection).with_endpoint(server),
        }
    }

    /// A traced multiplexed connection to the server the Sentinels name now.
    pub async fn get_async_connection(
        &mut self,
    ) -> RedisResult<TracedConnection<redis::aio::MultiplexedConnection>> {
        let server = self.client.async_get_client().await?;
        let connection = server.get_multiplexed_async_connection().await?;
        Ok(self.traced(connection, &server))
    }

    /// A traced blocking connection to the server the Sentinels name now.
    pub fn get_connection(&mut self) -> RedisResult<TracedConnection<redis::Connection>> {
        let server = self.client.get_client()?;
        let connection = server.get_connection()?;
        Ok(self.traced(connection, &server))
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
