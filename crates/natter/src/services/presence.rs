//! Who is online: a count of live sockets per user on this node, and the
//! transitions that `presence` events announce.
//!
//! A user is online from their first socket's connect to their last socket's
//! disconnect, counted over every node: with several nodes, a user's first
//! socket here may not be their first anywhere.

use std::collections::HashMap;
use std::sync::Mutex;

use socketioxide::socket::Sid;

use super::sessions::AuthUser;
use crate::domain::{UserId, now_ms};
use crate::state::Ctx;

/// Counts a new socket of `user`; true when it is their first on this node.
/// Call [`socket_disconnected`] exactly once for every call of this.
pub fn socket_opened(ctx: &Ctx, user: &AuthUser) -> bool {
    metrics::gauge!(crate::telemetry::SOCKETS_CONNECTED).increment(1.0);
    ctx.presence.connected(&user.id)
}

/// Announces `user` online when the socket counted by [`socket_opened`] was
/// their first anywhere.
pub async fn announce_online(ctx: &Ctx, user: &AuthUser, sid: Sid, first_here: bool) {
    if first_here && ctx.notifier.other_sockets_of(&user.id, sid).await == 0 {
        ctx.notifier.presence(&user.id, true, None).await;
    }
}

/// A socket of `user` closed: if it was their last anywhere, store when they
/// were last seen and announce them offline.
pub async fn socket_disconnected(ctx: &Ctx, user: &AuthUser, sid: Sid) {
    metrics::gauge!(crate::telemetry::SOCKETS_CONNECTED).decrement(1.0);
    if ctx.presence.disconnected(&user.id)
        && ctx.notifier.other_sockets_of(&user.id, sid).await == 0
    {
        let now = now_ms();
        if let Err(e) = ctx.store.set_last_seen(&user.id, Some(now)).await {
            tracing::warn!(user = %user.id, "could not store last seen: {e}");
        }
        ctx.notifier.presence(&user.id, false, Some(now)).await;
    }
}

#[derive(Default)]
pub struct Presence {
    sockets: Mutex<HashMap<UserId, u32>>,
}

impl Presence {
    /// Counts a new socket; true when it is the user's first.
    pub fn connected(&self, user_id: &UserId) -> bool {
        let mut sockets = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        let count = sockets.entry(user_id.clone()).or_default();
        *count += 1;
        *count == 1
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
                true
            }
            None => false,
        }
    }

    pub fn is_online(&self, user_id: &UserId) -> bool {
        self.sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(user_id)
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
