//! Where a Redis server is: `server.address`, `server.port` and `db.namespace`.

use std::sync::Arc;

use opentelemetry::StringValue;

/// A Redis server and database, as recorded on spans.
///
/// Cheap to clone. Build one from a `redis::Client` or `redis::ConnectionInfo` (see
/// [`ToEndpoint`]) or by hand:
///
/// ```
/// use redis_trace::Endpoint;
///
/// let endpoint = Endpoint::tcp("cache.internal", 6380).with_database(2);
/// assert_eq!(endpoint.address(), Some("cache.internal"));
/// assert_eq!(endpoint.port(), Some(6380));
/// assert_eq!(endpoint.namespace(), Some("2"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    inner: Arc<Inner>,
}

#[derive(Debug, PartialEq, Eq)]
struct Inner {
    // `Arc<str>`: attributes share them without copying, so recording allocates nothing.
    address: Arc<str>,
    port: Option<u16>,
    database: Option<i64>,
    namespace: Option<Arc<str>>,
}

impl Endpoint {
    /// A server reached over TCP (or TLS), database 0.
    #[must_use]
    pub fn tcp(host: impl Into<String>, port: u16) -> Self {
        Self::new(host.into(), Some(port), Some(0))
    }

    /// A server reached through a unix socket at `path`, database 0. `server.port` is absent.
    #[must_use]
    pub fn unix(path: impl Into<String>) -> Self {
        Self::new(path.into(), None, Some(0))
    }

    /// The same server, database `index`.
    #[must_use]
    pub fn with_database(self, index: i64) -> Self {
        Self::new(self.inner.address.to_string(), self.inner.port, Some(index))
    }

    /// A client configured with several nodes, a cluster's seed list: `server.address` is the
    /// list `host:port,host:port` and `server.port` is absent, as the conventions ask for a
    /// client configured with several endpoints; `db.namespace` is the first node's database.
    /// The node that served a command is recorded apart, as `network.peer.*`.
    ///
    /// ```
    /// use redis_trace::Endpoint;
    ///
    /// let seeds = Endpoint::nodes([Endpoint::tcp("10.0.0.1", 7000), Endpoint::tcp("10.0.0.2", 7000)]);
    /// assert_eq!(seeds.address(), Some("10.0.0.1:7000,10.0.0.2:7000"));
    /// assert_eq!(seeds.port(), None);
    /// ```
    #[must_use]
    pub fn nodes<T: ToEndpoint>(nodes: impl IntoIterator<Item = T>) -> Self {
        let nodes: Vec<Endpoint> = nodes.into_iter().map(|node| node.to_endpoint()).collect();
        let database = nodes.first().and_then(Endpoint::database);
        let list: Vec<String> = nodes.iter().map(Endpoint::host_and_port).collect();
        Self::new(list.join(","), None, database)
    }

    /// Sentinels monitoring the master `master_name`: `server.address` is
    /// `host:port,host:port/master_name` (the form of a Sentinel URL), `server.port` absent; the
    /// server the Sentinels named is recorded apart, as `network.peer.*`.
    #[must_use]
    pub fn sentinels<T: ToEndpoint>(
        sentinels: impl IntoIterator<Item = T>,
        master_name: &str,
    ) -> Self {
        let list = Self::nodes(sentinels);
        let address = format!("{}/{master_name}", list.inner.address);
        Self::new(address, None, list.database())
    }

    /// `host:port`, or the socket path.
    fn host_and_port(&self) -> String {
        match self.inner.port {
            Some(port) => format!("{}:{port}", self.inner.address),
            None => self.inner.address.to_string(),
        }
    }

    /// The endpoint a redis-rs connection with `info` talks to. Credentials are never read.
    #[must_use]
    pub fn from_connection_info(info: &redis::ConnectionInfo) -> Self {
        let database = info.redis_settings().db();
        match info.addr() {
            redis::ConnectionAddr::Tcp(host, port)
            | redis::ConnectionAddr::TcpTls { host, port, .. } => {
                Self::new(host.clone(), Some(*port), Some(database))
            }
            redis::ConnectionAddr::Unix(path) => {
                Self::new(path.to_string_lossy().into_owned(), None, Some(database))
            }
            // `ConnectionAddr` is non-exhaustive: record the database, invent no address.
            _ => Self::new(String::new(), None, Some(database)),
        }
    }

    fn new(address: String, port: Option<u16>, database: Option<i64>) -> Self {
        Self {
            inner: Arc::new(Inner {
                address: address.into(),
                port,
                database,
                namespace: database.map(|index| index.to_string().into()),
            }),
        }
    }

    /// `server.address`: host name, IP or unix socket path.
    #[must_use]
    pub fn address(&self) -> Option<&str> {
        Some(&*self.inner.address).filter(|address| !address.is_empty())
    }

    /// Whether `other` is this very endpoint (a clone of it), not merely an equal one.
    pub(crate) fn is_same(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Whether `a` and `b` are both absent or both this very endpoint ([`Endpoint::is_same`]).
    pub(crate) fn are_same(a: Option<&Self>, b: Option<&Self>) -> bool {
        match (a, b) {
            (Some(a), Some(b)) => a.is_same(b),
            (None, None) => true,
            _ => false,
        }
    }

    /// Where this endpoint lives: a hash of its identity, for caches that hold a clone.
    pub(crate) fn address_of(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    /// Appends `db.namespace` (the database index) and the server attributes, where known, to
    /// `attributes` (a stream read's receive span).
    pub(crate) fn push_database_attributes(&self, attributes: &mut Vec<opentelemetry::KeyValue>) {
        if let Some(namespace) = self.namespace_value() {
            attributes.push(opentelemetry::KeyValue::new(
                crate::semconv::DB_NAMESPACE,
                namespace,
            ));
        }
        self.push_server_attributes(attributes);
    }

    /// Appends `network.peer.address` and `network.peer.port` (this endpoint as the node that
    /// served a command).
    pub(crate) fn push_peer_attributes(&self, attributes: &mut Vec<opentelemetry::KeyValue>) {
        if let Some(address) = self.address_value() {
            attributes.push(opentelemetry::KeyValue::new(
                crate::semconv::NETWORK_PEER_ADDRESS,
                address,
            ));
        }
        if let Some(port) = self.port() {
            attributes.push(opentelemetry::KeyValue::new(
                crate::semconv::NETWORK_PEER_PORT,
                i64::from(port),
            ));
        }
    }

    /// Appends `server.address` and `server.port`, where known, to `attributes` (for the spans
    /// and metrics built outside an operation: messaging, reconnects).
    pub(crate) fn push_server_attributes(&self, attributes: &mut Vec<opentelemetry::KeyValue>) {
        if let Some(address) = self.address_value() {
            attributes.push(opentelemetry::KeyValue::new(
                crate::semconv::SERVER_ADDRESS,
                address,
            ));
        }
        if let Some(port) = self.port() {
            let port = i64::from(port);
            attributes.push(opentelemetry::KeyValue::new(
                crate::semconv::SERVER_PORT,
                port,
            ));
        }
    }

    /// `server.address` as an attribute value (shared, not copied).
    pub(crate) fn address_value(&self) -> Option<StringValue> {
        self.address()?;
        Some(StringValue::from(self.inner.address.clone()))
    }

    /// The database index.
    #[must_use]
    pub fn database(&self) -> Option<i64> {
        self.inner.database
    }

    /// `db.namespace` as an attribute value (shared, not copied).
    pub(crate) fn namespace_value(&self) -> Option<StringValue> {
        self.inner.namespace.clone().map(StringValue::from)
    }

    /// `server.port`, absent for unix sockets.
    #[must_use]
    pub fn port(&self) -> Option<u16> {
        self.inner.port
    }

    /// `db.namespace`: the database index as a string.
    #[must_use]
    pub fn namespace(&self) -> Option<&str> {
        self.inner.namespace.as_deref()
    }
}

/// Anything that knows which Redis server it talks to; accepted by `endpoint = ...` in
/// `#[redis_traced]`, by [`set_default_endpoint`](crate::set_default_endpoint) and by
/// [`TracedConnection::with_endpoint`](crate::TracedConnection::with_endpoint).
///
/// Implement it for your own types (a repository holding its `redis::Client`, say) to pass them
/// as they are.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not say which Redis server is called",
    label = "not a Redis endpoint",
    note = "`endpoint = ...` takes a `redis::Client`, a `redis::ConnectionInfo` or a `redis_trace::Endpoint` (or a reference to one)"
)]
pub trait ToEndpoint {
    /// The server and database this value points at.
    fn to_endpoint(&self) -> Endpoint;
}

impl ToEndpoint for Endpoint {
    fn to_endpoint(&self) -> Endpoint {
        self.clone()
    }
}

impl ToEndpoint for redis::ConnectionInfo {
    fn to_endpoint(&self) -> Endpoint {
        Endpoint::from_connection_info(self)
    }
}

impl ToEndpoint for redis::Client {
    fn to_endpoint(&self) -> Endpoint {
        Endpoint::from_connection_info(self.get_connection_info())
    }
}

impl<T: ToEndpoint + ?Sized> ToEndpoint for &T {
    fn to_endpoint(&self) -> Endpoint {
        (**self).to_endpoint()
    }
}

impl<T: ToEndpoint + ?Sized> ToEndpoint for Arc<T> {
    fn to_endpoint(&self) -> Endpoint {
        (**self).to_endpoint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_from_redis_urls() {
        let client = redis::Client::open("redis://:secret@10.1.2.3:6390/3").unwrap();
        let endpoint = client.to_endpoint();
        assert_eq!(endpoint.address(), Some("10.1.2.3"));
        assert_eq!(endpoint.port(), Some(6390));
        assert_eq!(endpoint.namespace(), Some("3"));

        let info: redis::ConnectionInfo = "redis+unix:///run/redis.sock?db=1".parse().unwrap();
        let endpoint = info.to_endpoint();
        assert_eq!(endpoint.address(), Some("/run/redis.sock"));
        assert_eq!(endpoint.port(), None);
        assert_eq!(endpoint.namespace(), Some("1"));
    }
}
