//! What the examples share: the Redis to talk to. Plain `std` and `redis`, so an example copied
//! into your project builds with this file beside it.
//!
//! `redis()` picks the server: `REDIS_URL` when set; else the Redis on 127.0.0.1:6379 when one
//! answers; else a private `redis-server` (`REDIS_SERVER_BIN`, else the one on `PATH`) on a free
//! loopback port and a unix socket, started here and stopped when the example ends.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Redis an example uses, with the private server it started, if any (stopped on drop).
pub struct Redis {
    pub client: redis::Client,
    _server: Option<PrivateServer>,
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
    if answers(&local) {
        return Ok(Redis {
            client: local,
            _server: None,
        });
    }
    let (client, server) = PrivateServer::start().unwrap_or_else(|failure| {
        eprintln!("example: REDIS_URL is unset and nothing answers on 127.0.0.1:6379. {failure}");
        std::process::exit(1)
    });
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

fn answers(client: &redis::Client) -> bool {
    client
        .get_connection_with_timeout(Duration::from_millis(300))
        .and_then(|mut connection| redis::cmd("PING").query::<String>(&mut connection))
        .is_ok()
}

/// A `redis-server` child process keeping nothing on disk, in a directory of its own.
struct PrivateServer {
    child: Child,
    dir: PathBuf,
}

impl PrivateServer {
    /// Starts one; the client reaches it over loopback TCP, or over its unix socket where
    /// loopback is down (a network namespace without it).
    fn start() -> Result<(redis::Client, Self), String> {
        // Port 0 (no TCP) when no loopback port can be had: the socket still works.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_or(0, |address| address.port());
        let dir = std::env::temp_dir().join(format!("redis-trace-example-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let socket = dir.join("redis.sock");
        let binary = std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(&binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .arg("--unixsocket")
            .arg(&socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| {
                format!(
                    "Could not run {binary} ({error}): install redis-server (Debian/Ubuntu: \
                     `sudo apt-get install redis-server`; macOS: `brew install redis`) or set \
                     REDIS_URL"
                )
            })?;
        let mut server = Self { child, dir };
        let tcp = redis::Client::open(format!("redis://127.0.0.1:{port}"));
        let unix = redis::Client::open(format!("redis+unix://{}", socket.display()));
        let (tcp, unix) = (
            tcp.map_err(|e| e.to_string())?,
            unix.map_err(|e| e.to_string())?,
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if port != 0 && answers(&tcp) {
                return Ok((tcp, server));
            }
            if answers(&unix) {
                return Ok((unix, server));
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("{binary} exited with {status}"));
            }
            if Instant::now() > deadline {
                return Err(format!("{binary} did not answer PING in 10 s"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
