//! Presence over every node (with `REDIS_URL`): heartbeats with expiry in Redis.
//!
//! Each node has a random id and keeps, under `<prefix>:presence:`:
//!
//! - `node:<id>`: its heartbeat, set every tick with a TTL (`NATTER_PRESENCE_TTL`);
//! - `users:<id>`: the set of users with at least one socket on it, changed as
//!   their first socket opens and last one closes, and written whole after any
//!   failure (so a Redis restarted empty is refilled at the next tick);
//! - `nodes`: a hash of every node id to its last heartbeat (ms);
//! - `reaped:<id>`: taken by the node that announces a dead node's users offline.
//!
//! Every key but `reaped:` is refreshed every tick and expires after ten TTLs
//! without one (`node:` after one), so a deployment taken down leaves nothing.
//!
//! Every tick (a third of the TTL, at most 2 s) each node also reads the other
//! nodes' sets into a local view, so [`Cluster::online_elsewhere`] (and with it
//! the `online` of every HTTP answer) is an in-memory lookup, a tick stale at
//! most. A node listed in `nodes` whose heartbeat expired is dead: the first node
//! to take `reaped:<id>` (SET NX) deletes its keys, then, for each of its users
//! not online on a live node, stores `last_seen_at` (the dead node's last
//! heartbeat) and announces them offline, once for the whole cluster.
//!
//! Redis is never on the path of a connect: changes go through a channel to the
//! worker. While Redis does not answer, the view goes stale after one TTL and is
//! then ignored: each node counts its own sockets only, as it did before. After
//! an outage, no node reaps for one TTL, so the others have time to renew their
//! heartbeats. A node that was reaped while alive (cut off from Redis for longer
//! than the TTL) finds its `reaped:` key when it is back, writes its set again
//! and announces its users online again.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use socketioxide_redis::drivers::redis::redis_client as redis;
use tokio::sync::{mpsc, oneshot};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::domain::{Millis, UserId, now_ms};
use crate::state::Ctx;

/// The longest one Redis round trip may take before the tick counts as failed.
const ROUND_TRIP: Duration = Duration::from_secs(3);

/// This node's membership in the cluster's presence, and its view of the others.
pub struct Cluster {
    node: String,
    keys: Keys,
    ttl: Duration,
    to_worker: mpsc::UnboundedSender<ToWorker>,
    view: Mutex<View>,
}

enum ToWorker {
    /// A user's first socket on this node opened (true), or their last closed.
    Changed(UserId, bool),
    /// Shutting down: remove this node's keys, answer, stop.
    Leave(oneshot::Sender<()>),
}

#[derive(Default)]
struct View {
    /// Users with a socket on another live node.
    users: HashSet<UserId>,
    refreshed: Option<Instant>,
}

/// The background half: heartbeats, the view, the reaper. Started by
/// [`super::start`] once the application context exists.
pub struct Worker {
    client: redis::Client,
    messages: mpsc::UnboundedReceiver<ToWorker>,
}

struct Keys {
    prefix: String,
}

impl Keys {
    fn nodes(&self) -> String {
        format!("{}:presence:nodes", self.prefix)
    }
    fn beat(&self, node: &str) -> String {
        format!("{}:presence:node:{node}", self.prefix)
    }
    fn users(&self, node: &str) -> String {
        format!("{}:presence:users:{node}", self.prefix)
    }
    fn reaped(&self, node: &str) -> String {
        format!("{}:presence:reaped:{node}", self.prefix)
    }
}

impl Cluster {
    pub fn new(url: &str, prefix: &str, ttl: Duration) -> anyhow::Result<(Self, Worker)> {
        let client = redis::Client::open(url).context("parsing REDIS_URL")?;
        let (tx, rx) = mpsc::unbounded_channel();
        let cluster = Self {
            node: format!("{:016x}", rand::random::<u64>()),
            keys: Keys {
                prefix: prefix.to_owned(),
            },
            ttl,
            to_worker: tx,
            view: Mutex::default(),
        };
        Ok((
            cluster,
            Worker {
                client,
                messages: rx,
            },
        ))
    }

    pub fn node_id(&self) -> &str {
        &self.node
    }

    /// Records that `user` now has (or no longer has) a socket on this node.
    /// Never waits: the worker writes it to Redis.
    pub(super) fn changed(&self, user: &UserId, online: bool) {
        let _ = self.to_worker.send(ToWorker::Changed(user.clone(), online));
    }

    /// At shutdown, after the sockets closed: removes this node from Redis, so
    /// the others do not take it for dead. Waits 2 s at most.
    pub async fn leave(&self) {
        let (tx, rx) = oneshot::channel();
        if self.to_worker.send(ToWorker::Leave(tx)).is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(2), rx).await;
        }
    }

    /// Whether a live node other than this one had a socket of `user` at the
    /// last tick. False for everyone while the view is older than the TTL
    /// (Redis unreachable): this node's own count is all there is then.
    pub(super) fn online_elsewhere(&self, user: &UserId) -> bool {
        let view = self.view.lock().unwrap_or_else(|e| e.into_inner());
        view.refreshed.is_some_and(|at| at.elapsed() < self.ttl) && view.users.contains(user)
    }

    fn set_view(&self, users: HashSet<UserId>) {
        *self.view.lock().unwrap_or_else(|e| e.into_inner()) = View {
            users,
            refreshed: Some(Instant::now()),
        };
    }

    fn tick(&self) -> Duration {
        (self.ttl / 3).min(Duration::from_secs(2))
    }

    fn ttl_ms(&self) -> u64 {
        self.ttl.as_millis().max(1) as u64
    }
}

impl Worker {
    pub fn spawn(self, ctx: Ctx) {
        tokio::spawn(self.run(ctx));
    }

    async fn run(self, ctx: Ctx) {
        let Some(cluster) = ctx.presence.cluster() else {
            return;
        };
        let Self {
            client,
            mut messages,
        } = self;
        tracing::info!(
            node = cluster.node_id(),
            ttl = ?cluster.ttl,
            "presence: heartbeats every {:?}",
            cluster.tick()
        );
        let mut state = State {
            client,
            conn: None,
            rewrite: true,
            healthy: true,
            reap_after: Instant::now(),
        };
        let mut ticks = tokio::time::interval(cluster.tick());
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {
                    let result = state.round(&ctx, cluster).await;
                    state.outcome(cluster, result);
                }
                message = messages.recv() => {
                    let mut batch = Vec::new();
                    let mut leave = None;
                    let mut next = message;
                    while let Some(message) = next {
                        match message {
                            ToWorker::Changed(user, online) => batch.push((user, online)),
                            ToWorker::Leave(done) => {
                                leave = Some(done);
                                break;
                            }
                        }
                        next = messages.try_recv().ok();
                    }
                    // A pending whole rewrite (after a failure) covers these.
                    if !state.rewrite && !batch.is_empty() {
                        let result = state.apply(cluster, &batch).await;
                        state.outcome(cluster, result);
                    }
                    if let Some(done) = leave {
                        if let Err(e) = state.leave(cluster).await {
                            tracing::warn!(node = cluster.node_id(), "presence: could not leave: {e:#}");
                        }
                        let _ = done.send(());
                        return;
                    }
                }
            }
        }
    }
}

struct State {
    client: redis::Client,
    conn: Option<ConnectionManager>,
    /// This node's set must be written whole at the next tick.
    rewrite: bool,
    healthy: bool,
    /// No reaping before this: after an outage the other nodes need a TTL to
    /// renew their heartbeats.
    reap_after: Instant,
}

async fn timed<T>(op: impl Future<Output = redis::RedisResult<T>>) -> anyhow::Result<T> {
    match tokio::time::timeout(ROUND_TRIP, op).await {
        Ok(result) => Ok(result?),
        Err(_) => anyhow::bail!("Redis did not answer within {ROUND_TRIP:?}"),
    }
}

impl State {
    async fn connection(&mut self) -> anyhow::Result<ConnectionManager> {
        if let Some(conn) = &self.conn {
            return Ok(conn.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_secs(1))
            .set_number_of_retries(3)
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        let conn = timed(self.client.get_connection_manager_with_config(config)).await?;
        self.conn = Some(conn.clone());
        Ok(conn)
    }

    fn outcome(&mut self, cluster: &Cluster, result: anyhow::Result<()>) {
        match result {
            Ok(()) if !self.healthy => {
                self.healthy = true;
                tracing::info!(
                    node = cluster.node_id(),
                    "presence: Redis answers again, presence is cluster-wide again"
                );
            }
            Ok(()) => {}
            Err(e) => {
                self.rewrite = true;
                self.reap_after = Instant::now() + cluster.ttl;
                if self.healthy {
                    self.healthy = false;
                    tracing::warn!(
                        node = cluster.node_id(),
                        "presence: Redis unreachable, counting this node's sockets only: {e:#}"
                    );
                } else {
                    tracing::debug!("presence: Redis still unreachable: {e:#}");
                }
            }
        }
    }

    /// Writes first-socket and last-socket changes to this node's set.
    async fn apply(&mut self, cluster: &Cluster, batch: &[(UserId, bool)]) -> anyhow::Result<()> {
        let mut conn = self.connection().await?;
        let key = cluster.keys.users(&cluster.node);
        let mut pipe = redis::pipe();
        for (user, online) in batch {
            let command = if *online { "SADD" } else { "SREM" };
            pipe.cmd(command).arg(&key).arg(user.as_str()).ignore();
        }
        timed(pipe.query_async::<()>(&mut conn)).await
    }

    async fn leave(&mut self, cluster: &Cluster) -> anyhow::Result<()> {
        let mut conn = self.connection().await?;
        let (keys, me) = (&cluster.keys, cluster.node.as_str());
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("DEL")
            .arg(keys.beat(me))
            .arg(keys.users(me))
            .ignore()
            .cmd("HDEL")
            .arg(keys.nodes())
            .arg(me)
            .ignore();
        timed(pipe.query_async::<()>(&mut conn)).await
    }

    /// One tick: the heartbeat (and the whole set if needed), the view of the
    /// other nodes, and the reaping of dead ones.
    async fn round(&mut self, ctx: &Ctx, cluster: &Cluster) -> anyhow::Result<()> {
        let mut conn = self.connection().await?;
        let (keys, me, ttl) = (&cluster.keys, cluster.node.as_str(), cluster.ttl_ms());
        let rewrite = self.rewrite;
        let mut pipe = redis::pipe();
        pipe.atomic();
        if rewrite {
            let users = ctx.presence.local_users();
            pipe.cmd("DEL").arg(keys.users(me)).ignore();
            if !users.is_empty() {
                let users: Vec<&str> = users.iter().map(UserId::as_str).collect();
                pipe.cmd("SADD").arg(keys.users(me)).arg(users).ignore();
            }
        }
        // The heartbeat before the listing, so a listed node always has one.
        let now = now_ms();
        pipe.cmd("SET")
            .arg(keys.beat(me))
            .arg(now)
            .arg("PX")
            .arg(ttl)
            .ignore()
            .cmd("HSET")
            .arg(keys.nodes())
            .arg(me)
            .arg(now)
            .ignore()
            // Gone once no node has beaten for long (a deployment taken down).
            .cmd("PEXPIRE")
            .arg(keys.nodes())
            .arg(ttl * 10)
            .ignore()
            // Outlives the heartbeat, so the reaper can still read it.
            .cmd("PEXPIRE")
            .arg(keys.users(me))
            .arg(ttl * 10)
            .ignore()
            .cmd("DEL")
            .arg(keys.reaped(me))
            .cmd("HGETALL")
            .arg(keys.nodes());
        let (was_reaped, nodes): (bool, HashMap<String, Millis>) =
            timed(pipe.query_async(&mut conn)).await?;
        self.rewrite = false;
        if was_reaped {
            // Announced dead while alive (cut off for longer than the TTL).
            tracing::warn!(
                node = me,
                "presence: this node was taken for dead; announcing its users online again"
            );
            self.rewrite = true;
            for user in ctx.presence.local_users() {
                ctx.notifier.presence(&user, true, None).await;
            }
        }

        let others: Vec<(&String, Millis)> = nodes
            .iter()
            .filter(|(node, _)| node.as_str() != me)
            .map(|(node, beat)| (node, *beat))
            .collect();
        if others.is_empty() {
            cluster.set_view(HashSet::new());
            return Ok(());
        }
        let beats: Vec<String> = others.iter().map(|(node, _)| keys.beat(node)).collect();
        let alive: Vec<Option<String>> =
            timed(redis::cmd("MGET").arg(beats).query_async(&mut conn)).await?;
        let mut pipe = redis::pipe();
        for (node, _) in &others {
            pipe.cmd("SMEMBERS").arg(keys.users(node));
        }
        let sets: Vec<Vec<String>> = timed(pipe.query_async(&mut conn)).await?;

        let mut online = HashSet::new();
        let mut dead = Vec::new();
        for (((node, beat), alive), users) in others.into_iter().zip(alive).zip(sets) {
            let users = users.iter().filter_map(|u| UserId::parse(u).ok());
            if alive.is_some() {
                online.extend(users);
            } else {
                dead.push((node.clone(), beat, users.collect::<Vec<_>>()));
            }
        }
        cluster.set_view(online);
        if Instant::now() < self.reap_after {
            return Ok(());
        }
        for (node, last_beat, users) in dead {
            reap(ctx, cluster, &mut conn, &node, last_beat, users).await?;
        }
        Ok(())
    }
}

/// Announces the users of a dead node offline, unless another node already
/// does, or they are online on a live node.
async fn reap(
    ctx: &Ctx,
    cluster: &Cluster,
    conn: &mut ConnectionManager,
    node: &str,
    last_beat: Millis,
    users: Vec<UserId>,
) -> anyhow::Result<()> {
    let keys = &cluster.keys;
    let taken: redis::Value = timed(
        redis::cmd("SET")
            .arg(keys.reaped(node))
            .arg(cluster.node_id())
            .arg("NX")
            .arg("PX")
            .arg(cluster.ttl_ms() * 10)
            .query_async(conn),
    )
    .await?;
    if matches!(taken, redis::Value::Nil) {
        return Ok(());
    }
    let mut pipe = redis::pipe();
    pipe.atomic()
        .cmd("DEL")
        .arg(keys.users(node))
        .ignore()
        .cmd("HDEL")
        .arg(keys.nodes())
        .arg(node)
        .ignore();
    timed(pipe.query_async::<()>(conn)).await?;
    let gone: Vec<UserId> = users
        .into_iter()
        .filter(|user| !ctx.presence.is_online(user))
        .collect();
    tracing::warn!(
        dead = node,
        node = cluster.node_id(),
        users = gone.len(),
        "presence: node stopped sending heartbeats; announcing its users offline"
    );
    for user in gone {
        // A user whose last socket elsewhere closed after the dead node's last
        // heartbeat was announced offline then, by that socket's node.
        match ctx.store.set_last_seen_if_later(&user, last_beat).await {
            Ok(false) => continue,
            Ok(true) => {}
            Err(e) => tracing::warn!(user = %user, "could not store last seen: {e}"),
        }
        ctx.notifier.presence(&user, false, Some(last_beat)).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_counts_until_it_is_older_than_the_ttl() {
        let ttl = Duration::from_millis(50);
        let (cluster, _worker) = Cluster::new("redis://127.0.0.1:1", "t", ttl).unwrap();
        let (a, b) = (UserId::generate(), UserId::generate());
        assert!(!cluster.online_elsewhere(&a), "no view yet");
        cluster.set_view(HashSet::from([a.clone()]));
        assert!(cluster.online_elsewhere(&a));
        assert!(!cluster.online_elsewhere(&b));
        std::thread::sleep(ttl);
        assert!(!cluster.online_elsewhere(&a), "a stale view is ignored");
    }

    #[test]
    fn transitions_reach_the_worker_in_order() {
        let (cluster, mut worker) =
            Cluster::new("redis://127.0.0.1:1", "t", Duration::from_secs(30)).unwrap();
        let presence = super::super::Presence {
            sockets: Mutex::default(),
            cluster: Some(cluster),
        };
        let a = UserId::generate();
        assert!(presence.connected(&a));
        assert!(!presence.connected(&a));
        assert!(!presence.disconnected(&a));
        assert!(presence.disconnected(&a));
        let mut seen = Vec::new();
        while let Ok(ToWorker::Changed(user, online)) = worker.messages.try_recv() {
            assert_eq!(user, a);
            seen.push(online);
        }
        assert_eq!(seen, [true, false], "first and last socket only");
    }
}
