//! Starts a private `redis-server` on a free loopback port for one test, and stops it on drop.
//!
//! Tests never touch the machine's own Redis on 6379. The binary is `redis-server` on `PATH`, or
//! `REDIS_SERVER_BIN` when set.

use std::io::Read;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const INSTALL_HINT: &str = "redis-server is needed by the tests and was not found. Install it \
(Debian/Ubuntu: `sudo apt-get install redis-server`; macOS: `brew install redis`) or set \
REDIS_SERVER_BIN to its path.";

/// A running `redis-server`, killed when dropped.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts a server on a free loopback port and waits until it answers `PING`.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server with extra `redis-server` arguments.
    pub fn start_with(extra: &[&str]) -> Self {
        let mut last_failure = String::new();
        // The free port may be taken between probing and binding: retry with another.
        for _ in 0..5 {
            match Self::try_start(extra) {
                Ok(server) => return server,
                Err(failure) => last_failure = failure,
            }
        }
        panic!("could not start redis-server: {last_failure}");
    }

    fn try_start(extra: &[&str]) -> Result<Self, String> {
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("redis-trace-test-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let binary =
            std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".to_owned());
        let child = Command::new(&binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| match error.kind() {
                std::io::ErrorKind::NotFound => panic!("{INSTALL_HINT} ({binary}: {error})"),
                _ => panic!("could not run {binary}: {error}"),
            });
        let mut server = Self {
            child: Some(child),
            port,
            dir,
        };
        server.wait_until_ready()?;
        Ok(server)
    }

    fn wait_until_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let client = self.client();
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                let mut output = String::new();
                if let Some(mut stdout) = self.child.as_mut().and_then(|c| c.stdout.take()) {
                    let _ = stdout.read_to_string(&mut output);
                }
                return Err(format!(
                    "redis-server on port {} exited with {status}: {output}",
                    self.port
                ));
            }
            let pong = client
                .get_connection_with_timeout(Duration::from_millis(200))
                .and_then(|mut connection| redis::cmd("PING").query::<String>(&mut connection));
            if pong.as_deref() == Ok("PONG") {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "redis-server on port {} did not answer PING in 10 s",
                    self.port
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:{port}/{db}`.
    pub fn url(&self, db: u8) -> String {
        format!("redis://127.0.0.1:{}/{db}", self.port)
    }

    /// A client for database 0.
    pub fn client(&self) -> redis::Client {
        self.client_for_db(0)
    }

    /// A client for database `db`.
    pub fn client_for_db(&self, db: u8) -> redis::Client {
        redis::Client::open(self.url(db)).expect("valid redis URL")
    }

    /// A multiplexed async connection to database `db`.
    pub async fn connection(&self, db: u8) -> redis::aio::MultiplexedConnection {
        self.client_for_db(db)
            .get_multiplexed_async_connection()
            .await
            .expect("connect to the test's redis-server")
    }

    /// Stops the server now (a later connection attempt is refused).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A free loopback port whose cluster bus port (+10000) is free too.
fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .expect("a free loopback port");
        let bus_free = port
            .checked_add(10_000)
            .is_some_and(|bus| TcpListener::bind(("127.0.0.1", bus)).is_ok());
        if bus_free {
            return port;
        }
    }
}
