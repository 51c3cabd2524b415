//! A real Redis Cluster on loopback: N masters started by the test harness, the 16384 slots
//! split between them (CLUSTER ADDSLOTS, which Redis 6.2 has too), joined with CLUSTER MEET, torn down on drop.

use std::time::{Duration, Instant};

use crate::RedisServer;

/// A running cluster of `redis-server --cluster-enabled yes` nodes.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts `masters` nodes, assigns slots evenly, and waits for `cluster_state:ok` on all.
    pub fn start(masters: usize) -> Self {
        let nodes: Vec<RedisServer> = (0..masters)
            .map(|_| {
                RedisServer::start_with(&[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "5000",
                ])
            })
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
        let cluster = Self { nodes };
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
                info.contains("cluster_state:ok") && known.lines().count() == self.nodes.len()
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

    /// The nodes.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
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
