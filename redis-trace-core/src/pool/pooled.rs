//! `Pooled`: a pooled or borrowed async connection seen as a connection.

use redis::{Cmd, RedisFuture, Value};

/// Makes a pooled or borrowed async connection (anything that dereferences to one, such as
/// bb8's `PooledConnection` or `&mut MultiplexedConnection`) a `redis::aio::ConnectionLike`,
/// so it can be traced: `TracedConnection::new(Pooled(pool.get().await?))`.
#[derive(Debug)]
pub struct Pooled<P>(pub P);

impl<P> redis::aio::ConnectionLike for Pooled<P>
where
    P: std::ops::DerefMut + Send,
    P::Target: redis::aio::ConnectionLike + Send,
{
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        self.0.req_packed_command(cmd)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        self.0.req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.0.get_db()
    }
}
