"""Makes a copy of redis-rs's crates.io package run its own tests through redis-trace.

Usage: patch.py PACKAGE_DIR REDIS_TRACE_DIR [--unwrapped]

Edits only the copy: its Cargo.toml (the two path dev-dependencies the package omits, redis-trace
and the OpenTelemetry SDK, and a [patch] so that redis-trace builds on this very redis crate) and
its test support module (connections come wrapped in TracedConnection). --unwrapped adds the
dev-dependencies only, for the baseline run of the unmodified suite.
"""
import pathlib
import sys

package = pathlib.Path(sys.argv[1])
redis_trace = pathlib.Path(sys.argv[2]).resolve()
unwrapped = "--unwrapped" in sys.argv[3:]
here = pathlib.Path(__file__).resolve().parent

manifest = package / "Cargo.toml"
text = manifest.read_text()
text += """
[dev-dependencies.redis-test]
path = "../support/redis-test"
features = ["aio"]

[dev-dependencies.test-macros]
path = "../support/test-macros"
"""
if not unwrapped:
    text += f"""
[dev-dependencies.redis-trace]
path = "{redis_trace}"
features = ["connection-manager"]

[dev-dependencies.opentelemetry]
version = "0.33"

[dev-dependencies.opentelemetry_sdk]
version = "0.33"
features = ["testing", "trace", "metrics"]

# redis-trace depends on `redis` from crates.io: make that this package, so there is one redis.
[patch.crates-io.redis]
path = "."
"""
manifest.write_text(text)

if unwrapped:
    sys.exit(0)


def replace(source: str, old: str, new: str) -> str:
    if source.count(old) != 1:
        sys.exit(f"patch.py: expected exactly one occurrence of:\n{old}")
    return source.replace(old, new)


support = package / "tests" / "support" / "mod.rs"
source = support.read_text()
source = replace(
    source,
    """    pub fn connection(&self) -> redis::Connection {
        self.client.get_connection().unwrap()
    }""",
    """    pub fn connection(&self) -> redis_trace::TracedConnection<redis::Connection> {
        traced::wrap(self.client.get_connection().unwrap(), &self.client)
    }""",
)
source = replace(
    source,
    """    pub async fn async_connection(&self) -> RedisResult<redis::aio::MultiplexedConnection> {
        self.client.get_multiplexed_async_connection().await
    }""",
    """    pub async fn async_connection(
        &self,
    ) -> RedisResult<redis_trace::TracedConnection<redis::aio::MultiplexedConnection>> {
        let connection = self.client.get_multiplexed_async_connection().await?;
        Ok(traced::wrap(connection, &self.client))
    }""",
)
source = replace(
    source,
    """    ) -> RedisResult<redis::aio::MultiplexedConnection> {
        self.client.get_multiplexed_async_connection().await
    }""",
    """    ) -> RedisResult<redis_trace::TracedConnection<redis::aio::MultiplexedConnection>> {
        let connection = self.client.get_multiplexed_async_connection().await?;
        Ok(traced::wrap(connection, &self.client))
    }""",
)
source += (here / "traced.rs").read_text()
support.write_text(source)

# The only edits outside the support module: test helpers that take a concrete connection type
# take any connection instead, as the guide advises users' helpers to.
HELPERS = [
    (
        "test_basic.rs",
        "fn generate_random_testing_hash_key(con: &mut Connection) -> String {",
        "fn generate_random_testing_hash_key(con: &mut impl redis::ConnectionLike) -> String {",
    ),
    (
        "test_basic.rs",
        """    fn verify_exact_hash_fields_and_values(
        con: &mut Connection,""",
        """    fn verify_exact_hash_fields_and_values(
        con: &mut impl redis::ConnectionLike,""",
    ),
    (
        "test_async.rs",
        """        async fn assert_receives_message(
            publish_conn: &mut MultiplexedConnection,""",
        """        async fn assert_receives_message(
            publish_conn: &mut (impl redis::aio::ConnectionLike + Send + Sync),""",
    ),
]
for name, old, new in HELPERS:
    test = package / "tests" / name
    test.write_text(replace(test.read_text(), old, new))
print(f"patch.py: {len(HELPERS)} edits outside the support module")
