//! Starts a private `redis-server` on a free loopback port for one test, and stops it on drop.
//!
//! Tests never touch the machine's own Redis on 6379. The binary is `redis-server` on `PATH`, or
//! `REDIS_SERVER_BIN` when set. The server also listens on a unix socket, for machines where
//! loopback TCP is unreachable (a network namespace whose `lo` is down, as under `unshare -rn`).

use std::io::{Read, Write as _};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const INSTALL_HINT: &str = "redis-server was not found. Install it (Debian/Ubuntu: `sudo apt-get \
install redis-server`; macOS: `brew install redis`) or set REDIS_SERVER_BIN to its path.";

/// A running `redis-server`, killed when dropped.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    /// The extra arguments it was started with.
    arguments: Vec<String>,
}

impl RedisServer {
    /// Starts a server on a free loopback port and waits until it answers `PING`.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server with extra `redis-server` arguments.
    pub fn start_with(extra: &[&str]) -> Self {
        Self::try_start_with(extra).unwrap_or_else(|failure| panic!("{failure}"))
    }

    /// Starts a server, or says why it could not (no `redis-server`: how to install it).
    pub fn try_start_with(extra: &[&str]) -> Result<Self, String> {
        let mut last_failure = String::new();
        // The free port may be taken between probing and binding: retry with another.
        for _ in 0..5 {
            match Self::try_start_once(extra) {
                Ok(server) => return Ok(server),
                Err(Failure::NotInstalled(hint)) => return Err(hint),
                Err(Failure::Other(failure)) => last_failure = failure,
            }
        }
        Err(format!("could not start redis-server: {last_failure}"))
    }

    /// Starts the stopped server again on the same port, with the same arguments.
    pub fn restart(&mut self) {
        self.stop();
        let mut server = Self::try_start_on(self.port, &self.arguments)
            .unwrap_or_else(|_| panic!("could not restart redis-server on port {}", self.port));
        self.child = server.child.take();
        // The new process runs in this server's directory: the temporary must not remove it.
        server.dir = PathBuf::new();
    }

    fn try_start_once(extra: &[&str]) -> Result<Self, Failure> {
        let arguments: Vec<String> = extra.iter().map(|&arg| arg.to_owned()).collect();
        Self::try_start_on(free_port(), &arguments)
    }

    fn try_start_on(port: u16, extra: &[String]) -> Result<Self, Failure> {
        let dir =
            std::env::temp_dir().join(format!("redis-trace-test-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| Failure::Other(format!("creating {}: {e}", dir.display())))?;
        let binary =
            std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".to_owned());
        let child = Command::new(&binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&dir)
            .arg("--unixsocket")
            .arg(dir.join(SOCKET))
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .inspect_err(|_| {
                let _ = std::fs::remove_dir_all(&dir);
            })
            .map_err(|error| match error.kind() {
                std::io::ErrorKind::NotFound => {
                    Failure::NotInstalled(format!("{INSTALL_HINT} ({binary}: {error})"))
                }
                _ => Failure::Other(format!("could not run {binary}: {error}")),
            })?;
        let mut server = Self {
            child: Some(child),
            port,
            dir,
            arguments: extra.to_vec(),
        };
        server.wait_until_ready().map_err(Failure::Other)?;
        Ok(server)
    }

    fn wait_until_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
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
            if answers(&self.client()) || answers(&self.unix_client()) {
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

    /// Its version, `(major, minor, patch)`, from `INFO server`.
    pub fn version(&self) -> (u32, u32, u32) {
        let mut connection = self.client().get_connection().expect("connect");
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query(&mut connection)
            .expect("INFO server");
        let version = info
            .lines()
            .find_map(|line| line.strip_prefix("redis_version:"))
            .expect("redis_version in INFO");
        let mut parts = version
            .trim()
            .split('.')
            .map(|part| part.parse().unwrap_or(0));
        let mut next = || parts.next().unwrap_or(0);
        (next(), next(), next())
    }

    /// Whether the server is at least `major.minor`. When it is not, says on the terminal
    /// (past the test harness's output capture) which test does not run and why, so a version
    /// exclusion is never silent.
    pub fn at_least(&self, major: u32, minor: u32, needs: &str) -> bool {
        let (have_major, have_minor, have_patch) = self.version();
        if (have_major, have_minor) >= (major, minor) {
            return true;
        }
        let test = std::thread::current().name().unwrap_or("a test").to_owned();
        let _ = writeln!(
            std::io::stderr(),
            "NOTE: {test}: not run on redis-server {have_major}.{have_minor}.{have_patch}: \
             needs Redis {major}.{minor}+ ({needs})"
        );
        false
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

    /// A client for its unix socket (database 0).
    pub fn unix_client(&self) -> redis::Client {
        let url = format!("redis+unix://{}", self.dir.join(SOCKET).display());
        redis::Client::open(url).expect("valid redis URL")
    }

    /// A TCP client when loopback TCP reaches the server, else a unix-socket client.
    pub fn reachable_client(&self) -> redis::Client {
        let tcp = self.client();
        if answers(&tcp) {
            tcp
        } else {
            self.unix_client()
        }
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

const SOCKET: &str = "redis.sock";

enum Failure {
    NotInstalled(String),
    Other(String),
}

/// Whether `client` connects and gets `PONG` (or, from a server with a password, `NOAUTH`)
/// within a moment.
fn answers(client: &redis::Client) -> bool {
    match client
        .get_connection_with_timeout(Duration::from_millis(200))
        .and_then(|mut connection| redis::cmd("PING").query::<String>(&mut connection))
    {
        Ok(pong) => pong == "PONG",
        Err(error) => error.code() == Some("NOAUTH"),
    }
}

/// A free loopback port whose cluster bus port (+10000) is free too.
pub(crate) fn free_port() -> u16 {
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
