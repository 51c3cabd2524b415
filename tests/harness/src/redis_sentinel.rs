//! A real Sentinel set-up on loopback: a master, a replica, and one `redis-server --sentinel`
//! watching them (quorum 1), on ports the harness picks; stopped on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::RedisServer;

/// The name the Sentinel monitors the master under.
pub const MASTER_NAME: &str = "mymaster";

/// A master, its replica and a Sentinel.
pub struct RedisSentinel {
    master: RedisServer,
    replica: RedisServer,
    sentinel: Option<Child>,
    sentinel_port: u16,
    dir: PathBuf,
}

impl RedisSentinel {
    /// Starts the three processes and waits until the replica is in sync and the Sentinel
    /// knows it.
    pub fn start() -> Self {
        let master = RedisServer::start();
        let master_port = master.port().to_string();
        let replica = RedisServer::start_with(&["--replicaof", "127.0.0.1", &master_port]);
        let sentinel_port = crate::redis_server::free_port();
        let dir = std::env::temp_dir().join(format!(
            "redis-trace-sentinel-{}-{sentinel_port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("sentinel directory");
        let config = dir.join("sentinel.conf");
        std::fs::write(
            &config,
            format!(
                "port {sentinel_port}\nbind 127.0.0.1\ndir {dir}\n\
                 sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 1\n\
                 sentinel down-after-milliseconds {MASTER_NAME} 2000\n\
                 sentinel failover-timeout {MASTER_NAME} 10000\n",
                dir = dir.display()
            ),
        )
        .expect("sentinel.conf");
        let binary =
            std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".to_owned());
        let sentinel = Command::new(&binary)
            .arg(&config)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("could not run {binary} --sentinel: {error}"));
        let set_up = Self {
            master,
            replica,
            sentinel: Some(sentinel),
            sentinel_port,
            dir,
        };
        set_up.wait_for("the replica in sync and known to the Sentinel", |s| {
            s.replica_in_sync() && s.sentinel_knows_a_replica()
        });
        set_up
    }

    /// `redis://127.0.0.1:{port}` of the Sentinel.
    pub fn sentinel_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.sentinel_port)
    }

    /// The first master's port.
    pub fn master_port(&self) -> u16 {
        self.master.port()
    }

    /// The replica's port (the master after a failover).
    pub fn replica_port(&self) -> u16 {
        self.replica.port()
    }

    /// `SENTINEL FAILOVER`, then waits until the Sentinel names the replica as master, the
    /// replica says it is one and the old master says it is a replica (Sentinel closes its
    /// clients as it demotes it).
    ///
    /// The Sentinel refuses (`NOGOODSLAVE`) while its last view of the replica is stale, which
    /// happens on a loaded machine even after it first saw the replica: it is asked again for up
    /// to 10 s.
    pub fn fail_over(&self) {
        let mut sentinel = self.sentinel_connection();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let asked = redis::cmd("SENTINEL")
                .arg("FAILOVER")
                .arg(MASTER_NAME)
                .exec(&mut sentinel);
            match asked {
                Err(error)
                    if error.to_string().contains("NOGOODSLAVE")
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(200));
                }
                asked => {
                    asked.expect("SENTINEL FAILOVER");
                    break;
                }
            }
        }
        let replica_port = self.replica.port();
        self.wait_for("the Sentinel to name the replica as master", |s| {
            s.named_master_port() == Some(replica_port)
                && s.role(&s.replica) == "master"
                && s.role(&s.master) == "slave"
        });
    }

    fn sentinel_connection(&self) -> redis::Connection {
        redis::Client::open(self.sentinel_url())
            .expect("sentinel url")
            .get_connection_with_timeout(Duration::from_secs(1))
            .expect("connect to the Sentinel")
    }

    /// Kills the first master (SIGKILL): the Sentinel fails over to the replica once it has
    /// seen the master down for 2 s.
    pub fn kill_master(&mut self) {
        self.master.stop();
    }

    /// The port of the master the Sentinel names now.
    pub fn named_master_port(&self) -> Option<u16> {
        let mut sentinel = self.sentinel_connection();
        let address: Option<(String, String)> = redis::cmd("SENTINEL")
            .arg("GET-MASTER-ADDR-BY-NAME")
            .arg(MASTER_NAME)
            .query(&mut sentinel)
            .ok()?;
        address?.1.parse().ok()
    }

    fn replica_in_sync(&self) -> bool {
        let info = self.info(&self.replica, "replication");
        info.contains("master_link_status:up")
    }

    fn sentinel_knows_a_replica(&self) -> bool {
        let Ok(mut sentinel) = redis::Client::open(self.sentinel_url())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(200)))
        else {
            return false;
        };
        let replicas: redis::RedisResult<Vec<redis::Value>> = redis::cmd("SENTINEL")
            .arg("REPLICAS")
            .arg(MASTER_NAME)
            .query(&mut sentinel);
        replicas.is_ok_and(|replicas| !replicas.is_empty())
    }

    fn role(&self, server: &RedisServer) -> String {
        let info = self.info(server, "replication");
        (info.lines())
            .find_map(|line| line.strip_prefix("role:"))
            .unwrap_or_default()
            .trim()
            .to_owned()
    }

    fn info(&self, server: &RedisServer, section: &str) -> String {
        let Ok(mut conn) = server.client().get_connection() else {
            return String::new();
        };
        redis::cmd("INFO")
            .arg(section)
            .query(&mut conn)
            .unwrap_or_default()
    }

    fn wait_for(&self, what: &str, ready: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !ready(self) {
            assert!(Instant::now() < deadline, "waited 30 s for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for RedisSentinel {
    fn drop(&mut self) {
        if let Some(mut sentinel) = self.sentinel.take() {
            let _ = sentinel.kill();
            let _ = sentinel.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
