//! The cap on Socket.IO connections per user (`NATTER_MAX_SOCKETS_PER_USER`),
//! counted on each node: a handshake over it is refused. A connection holds a
//! [`SocketSlot`] for its life; dropping it (with the socket) frees the place,
//! so the count cannot drift whichever way the socket ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::domain::UserId;

/// Open sockets per user on this node; users with none have no entry.
type OpenCounts = Arc<Mutex<HashMap<UserId, u32>>>;

pub struct SocketCap {
    cap: u32,
    open: OpenCounts,
}

impl SocketCap {
    /// `cap` sockets per user; `0` for no cap.
    pub fn new(cap: u32) -> Self {
        Self {
            cap,
            open: Arc::default(),
        }
    }

    /// A place for one more socket of `user`, or `None` when they hold `cap`.
    pub fn try_open(&self, user: &UserId) -> Option<SocketSlot> {
        if self.cap == 0 {
            return Some(SocketSlot(None));
        }
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(user.clone()).or_insert(0);
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(SocketSlot(Some((self.open.clone(), user.clone()))))
    }
}

/// One socket's place under the cap, given back on drop.
pub struct SocketSlot(Option<(OpenCounts, UserId)>);

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let Some((open, user)) = self.0.take() else {
            return;
        };
        let mut open = open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&user) {
            *count -= 1;
            if *count == 0 {
                open.remove(&user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_refuses_one_more_until_a_slot_is_dropped() {
        let cap = SocketCap::new(2);
        let (ann, bob) = (UserId::generate(), UserId::generate());
        let first = cap.try_open(&ann).unwrap();
        let _second = cap.try_open(&ann).unwrap();
        assert!(cap.try_open(&ann).is_none());
        assert!(cap.try_open(&bob).is_some());
        drop(first);
        assert!(cap.try_open(&ann).is_some());
        let unlimited = SocketCap::new(0);
        let slots: Vec<_> = (0..100)
            .map(|_| unlimited.try_open(&ann).unwrap())
            .collect();
        assert_eq!(slots.len(), 100);
    }
}
