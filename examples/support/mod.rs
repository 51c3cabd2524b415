//! What the examples share: the Redis to talk to, and printing the trace.
//!
//! `redis()` picks the server: `REDIS_URL` when set; else the Redis on 127.0.0.1:6379 when one
//! answers; else a private `redis-server` on a free loopback port (and a unix socket), started
//! here and stopped when the example ends. Telemetry goes to memory through
//! `redis_trace::testing::Telemetry` and is printed with its trace view.

use std::time::Duration;

use redis_trace_harness::RedisServer;

/// The Redis an example uses, with the private server it started, if any (stopped on drop).
pub struct Redis {
    pub client: redis::Client,
    _server: Option<RedisServer>,
}

/// `REDIS_URL`, else 127.0.0.1:6379 if it answers, else a private `redis-server`.
pub fn redis() -> Result<Redis, Box<dyn std::error::Error>> {
    if let Ok(url) = std::env::var("REDIS_URL") {
        return Ok(Redis {
            client: redis::Client::open(url.as_str())?,
            _server: None,
        });
    }
    let local = redis::Client::open("redis://127.0.0.1:6379")?;
    let answers = local
        .get_connection_with_timeout(Duration::from_millis(300))
        .and_then(|mut connection| redis::cmd("PING").query::<String>(&mut connection))
        .is_ok();
    if answers {
        return Ok(Redis {
            client: local,
            _server: None,
        });
    }
    let server = RedisServer::try_start_with(&[]).unwrap_or_else(|failure| {
        eprintln!("example: REDIS_URL is unset and nothing answers on 127.0.0.1:6379. {failure}");
        std::process::exit(1)
    });
    let client = server.reachable_client();
    eprintln!(
        "example: REDIS_URL is unset and nothing answers on 127.0.0.1:6379; started a private \
         redis-server at {} (stopped at exit)",
        client.get_connection_info().addr()
    );
    Ok(Redis {
        client,
        _server: Some(server),
    })
}
