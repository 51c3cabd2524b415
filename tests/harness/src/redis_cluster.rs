//! A real Redis Cluster on loopback: N masters started by the test harness, the 16384 slots
//! split between them (CLUSTER ADDSLOTS, which Redis 6.2 has too), joined with CLUSTER MEET, torn down on drop.

use std::time::{Duration, Instant};

use crate::RedisServer;

/// A running cluster of `redis-server --cluster-enabled yes` nodes.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
    /// One replica per master, in the masters' order (empty unless asked for).
    replicas: Vec<RedisServer>,
}

fn cluster_node(node_timeout_ms: u64) -> RedisServer {
    RedisServer::start_with(&[
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
        "--cluster-node-timeout",
        &node_timeout_ms.to_string(),
    ])
}

fn node_id(node: &RedisServer) -> String {
    let mut conn = node.client().get_connection().expect("connect");
    redis::cmd("CLUSTER")
        .arg("MYID")
        .query(&mut conn)
        .expect("CLUSTER MYID")
}

impl RedisCluster {
    /// Starts `masters` nodes, assigns slots evenly, and waits for `cluster_state:ok` on all.
    pub fn start(masters: usize) -> Self {
        Self::start_masters(masters, 5000)
    }

    /// [`RedisCluster::start`] with one replica per master, in sync, and
    /// `cluster-node-timeout` `node_timeout_ms`: a killed master's replica takes over.
    pub fn start_with_replicas(masters: usize, node_timeout_ms: u64) -> Self {
        let mut cluster = Self::start_masters(masters, node_timeout_ms);
        let first = cluster.nodes[0].port();
        for master in 0..masters {
            let replica = cluster_node(node_timeout_ms);
            let mut conn = replica
                .client()
                .get_connection()
                .expect("replica connection");
            redis::cmd("CLUSTER")
                .arg("MEET")
                .arg("127.0.0.1")
                .arg(first)
                .exec(&mut conn)
                .expect("CLUSTER MEET");
            cluster.replicas.push(replica);
            let id = node_id(&cluster.nodes[master]);
            // The replica must know its master before it can follow it.
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let asked = redis::cmd("CLUSTER")
                    .arg("REPLICATE")
                    .arg(&id)
                    .exec(&mut conn);
                if asked.is_ok() {
                    break;
                }
                assert!(Instant::now() < deadline, "CLUSTER REPLICATE: {asked:?}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        cluster.wait_until_ok();
        let deadline = Instant::now() + Duration::from_secs(30);
        for replica in &cluster.replicas {
            loop {
                let mut conn = replica.client().get_connection().expect("connect");
                let info: String = redis::cmd("INFO")
                    .arg("replication")
                    .query(&mut conn)
                    .unwrap_or_default();
                if info.contains("master_link_status:up") {
                    break;
                }
                assert!(Instant::now() < deadline, "a replica never synced");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        cluster
    }

    fn start_masters(masters: usize, node_timeout_ms: u64) -> Self {
        let nodes: Vec<RedisServer> = (0..masters)
            .map(|_| cluster_node(node_timeout_ms))
            .collect();
        let per_node = 16384 / masters;
        for (index, node) in nodes.iter().enumerate() {
            let mut conn = node
                .client()
                .get_connection()
                .expect("cluster node connection");
            let first = index * per_node;
            let last = if index + 1 == masters {
                16383
            } else {
                first + per_node - 1
            };
            redis::cmd("CLUSTER")
                .arg("ADDSLOTS")
                .arg((first..=last).collect::<Vec<_>>())
                .exec(&mut conn)
                .expect("CLUSTER ADDSLOTS");
            if index > 0 {
                redis::cmd("CLUSTER")
                    .arg("MEET")
                    .arg("127.0.0.1")
                    .arg(nodes[0].port())
                    .exec(&mut conn)
                    .expect("CLUSTER MEET");
            }
        }
        let cluster = Self {
            nodes,
            replicas: Vec::new(),
        };
        cluster.wait_until_ok();
        cluster
    }

    fn wait_until_ok(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let all_ok = self.nodes.iter().all(|node| {
                let Ok(mut conn) = node.client().get_connection() else {
                    return false;
                };
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query(&mut conn)
                    .unwrap_or_default();
                let known: String = redis::cmd("CLUSTER")
                    .arg("NODES")
                    .query(&mut conn)
                    .unwrap_or_default();
                info.contains("cluster_state:ok")
                    && known.lines().count() == self.nodes.len() + self.replicas.len()
            });
            if all_ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster did not reach cluster_state:ok in 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `redis://127.0.0.1:{port}` of every node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|node| node.url(0)).collect()
    }

    /// The masters, as started.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// The replicas, one per master in the masters' order.
    pub fn replicas(&self) -> &[RedisServer] {
        &self.replicas
    }

    /// Kills the master at `index` (SIGKILL).
    pub fn kill_master(&mut self, index: usize) {
        self.nodes[index].stop();
    }

    /// The port of the master that serves `slot` now, as `ask` reports it in `CLUSTER SLOTS`.
    pub fn owner_of(&self, slot: u16, ask: &RedisServer) -> Option<u16> {
        let mut conn = ask.client().get_connection().ok()?;
        let ranges: Vec<redis::Value> = redis::cmd("CLUSTER").arg("SLOTS").query(&mut conn).ok()?;
        ranges.iter().find_map(|range| {
            let redis::Value::Array(fields) = range else {
                return None;
            };
            let (redis::Value::Int(start), redis::Value::Int(end), redis::Value::Array(master)) =
                (&fields[0], &fields[1], &fields[2])
            else {
                return None;
            };
            let redis::Value::Int(port) = master.get(1)? else {
                return None;
            };
            (i64::from(slot) >= *start && i64::from(slot) <= *end)
                .then(|| u16::try_from(*port).ok())
                .flatten()
        })
    }

    /// Gives the (empty) `slot` to the node at `to`: `CLUSTER SETSLOT slot NODE id` on every
    /// node, as the last step of a resharding does.
    pub fn move_slot(&self, slot: u16, to: usize) {
        let mut target = self.nodes[to].client().get_connection().expect("connect");
        let id: String = redis::cmd("CLUSTER")
            .arg("MYID")
            .query(&mut target)
            .expect("CLUSTER MYID");
        for node in &self.nodes {
            let mut conn = node.client().get_connection().expect("connect");
            redis::cmd("CLUSTER")
                .arg("SETSLOT")
                .arg(slot)
                .arg("NODE")
                .arg(&id)
                .exec(&mut conn)
                .expect("CLUSTER SETSLOT .. NODE");
        }
    }

    /// The port of the node serving `slot` as the harness assigned it (before any move).
    pub fn port_for_slot(&self, slot: u16) -> u16 {
        let per_node = 16384 / self.nodes.len();
        let index = (usize::from(slot) / per_node).min(self.nodes.len() - 1);
        self.nodes[index].port()
    }
}
