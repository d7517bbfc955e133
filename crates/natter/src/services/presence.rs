//! Who is online: a count of live sockets per user on this node, and the
//! transitions that `presence` events announce.
//!
//! A user is online from their first socket's connect to their last socket's
//! disconnect, counted over every node: with several nodes, a user's first
//! socket here may not be their first anywhere. With `REDIS_URL`, [`cluster`]
//! keeps every node's users in Redis with heartbeats, so `online` in HTTP
//! answers is cluster-wide, and a node that dies without closing its sockets has
//! its users announced offline by the others within the heartbeat TTL.

pub mod cluster;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use socketioxide::socket::Sid;

use super::sessions::AuthUser;
use crate::config::Config;
use crate::domain::{UserId, now_ms};
use crate::state::Ctx;

/// Starts the cluster worker (heartbeats, view, reaper) returned by
/// [`Presence::for_config`], once the context that holds the presence exists.
pub fn start(ctx: &Ctx, worker: Option<cluster::Worker>) {
    if let Some(worker) = worker {
        worker.spawn(ctx.clone());
    }
}

/// At shutdown, once the sockets are closed: takes this node out of the
/// cluster-wide presence at once, rather than letting its heartbeat expire.
pub async fn leave(ctx: &Ctx) {
    if let Some(cluster) = ctx.presence.cluster() {
        cluster.leave().await;
    }
}

/// Counts a new socket of `user`; true when it is their first on this node.
/// Call [`socket_disconnected`] exactly once for every call of this.
pub fn socket_opened(ctx: &Ctx, user: &AuthUser) -> bool {
    metrics::gauge!(crate::telemetry::SOCKETS_CONNECTED).increment(1.0);
    ctx.presence.connected(&user.id)
}

/// Announces `user` online when the socket counted by [`socket_opened`] was
/// their first anywhere.
pub async fn announce_online(ctx: &Ctx, user: &AuthUser, sid: Sid, first_here: bool) {
    if first_here
        && ctx.notifier.other_sockets_of(&user.id, sid).await == 0
        // Counting asks every node and may take a while: if the user's sockets
        // here closed meanwhile, their offline is announced already, and an
        // online now would be the last word, and wrong.
        && ctx.presence.has_local_socket(&user.id)
    {
        ctx.notifier.presence(&user.id, true, None).await;
    }
}

/// A socket of `user` closed: if it was their last anywhere, store when they
/// were last seen and announce them offline.
pub async fn socket_disconnected(ctx: &Ctx, user: &AuthUser, sid: Sid) {
    metrics::gauge!(crate::telemetry::SOCKETS_CONNECTED).decrement(1.0);
    if !ctx.presence.disconnected(&user.id) {
        return;
    }
    if ctx.notifier.other_sockets_of(&user.id, sid).await == 0 {
        announce_offline(ctx, user).await;
        return;
    }
    // The user's last sockets on two nodes may close at once, and each node then
    // still counts the other's: look once more after both closes have settled.
    let (ctx, user) = (ctx.clone(), user.clone());
    tokio::spawn(async move {
        tokio::time::sleep(RECHECK_AFTER).await;
        if !ctx.presence.has_local_socket(&user.id)
            && ctx.notifier.other_sockets_of(&user.id, sid).await == 0
        {
            announce_offline(&ctx, &user).await;
        }
    });
}

const RECHECK_AFTER: Duration = Duration::from_secs(1);

async fn announce_offline(ctx: &Ctx, user: &AuthUser) {
    let now = now_ms();
    if let Err(e) = ctx.store.set_last_seen(&user.id, Some(now)).await {
        tracing::warn!(user = %user.id, "could not store last seen: {e}");
    }
    ctx.notifier.presence(&user.id, false, Some(now)).await;
}

#[derive(Default)]
pub struct Presence {
    sockets: Mutex<HashMap<UserId, u32>>,
    /// With `REDIS_URL`: this node's membership in the cluster-wide presence.
    cluster: Option<cluster::Cluster>,
}

impl Presence {
    /// This node's presence; with `REDIS_URL`, also the cluster worker to hand
    /// to [`start`]. Nothing here waits for Redis.
    pub fn for_config(config: &Config) -> anyhow::Result<(Self, Option<cluster::Worker>)> {
        let Some(url) = &config.redis_url else {
            return Ok((Self::default(), None));
        };
        let ttl = Duration::from_secs(config.presence_ttl);
        let (cluster, worker) = cluster::Cluster::new(url, &config.redis_prefix, ttl)?;
        let presence = Self {
            sockets: Mutex::default(),
            cluster: Some(cluster),
        };
        Ok((presence, Some(worker)))
    }

    pub fn cluster(&self) -> Option<&cluster::Cluster> {
        self.cluster.as_ref()
    }

    /// Counts a new socket; true when it is the user's first.
    pub fn connected(&self, user_id: &UserId) -> bool {
        let mut sockets = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        let count = sockets.entry(user_id.clone()).or_default();
        *count += 1;
        let first = *count == 1;
        if first && let Some(cluster) = &self.cluster {
            // Under the lock, so the worker sees each user's changes in order.
            cluster.changed(user_id, true);
        }
        first
    }

    /// Forgets a socket; true when it was the user's last.
    pub fn disconnected(&self, user_id: &UserId) -> bool {
        let mut sockets = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        match sockets.get_mut(user_id) {
            Some(count) if *count > 1 => {
                *count -= 1;
                false
            }
            Some(_) => {
                sockets.remove(user_id);
                if let Some(cluster) = &self.cluster {
                    cluster.changed(user_id, false);
                }
                true
            }
            None => false,
        }
    }

    /// Whether `user_id` has a socket on this node or, with `REDIS_URL`, on any
    /// live node (as of the cluster view's last tick). Never waits.
    pub fn is_online(&self, user_id: &UserId) -> bool {
        self.has_local_socket(user_id)
            || self
                .cluster
                .as_ref()
                .is_some_and(|cluster| cluster.online_elsewhere(user_id))
    }

    /// Whether `user_id` has a socket on this node.
    pub fn has_local_socket(&self, user_id: &UserId) -> bool {
        self.sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(user_id)
    }

    /// The users with a socket on this node.
    pub fn local_users(&self) -> Vec<UserId> {
        let sockets = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        sockets.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_and_last_socket_are_the_transitions() {
        let presence = Presence::default();
        let a = UserId::generate();
        assert!(presence.connected(&a));
        assert!(!presence.connected(&a));
        assert!(presence.is_online(&a));
        assert!(!presence.disconnected(&a));
        assert!(presence.disconnected(&a));
        assert!(!presence.is_online(&a));
        assert!(!presence.disconnected(&a));
    }
}
