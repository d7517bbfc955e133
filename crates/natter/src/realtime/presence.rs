//! Who is online: a count of live sockets per user on this node.
//!
//! A user is online from their first socket's connect to their last socket's
//! disconnect; the transitions are what `presence` events announce.

use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct Presence {
    sockets: Mutex<HashMap<String, u32>>,
}

impl Presence {
    /// Counts a new socket; true when it is the user's first.
    pub fn connected(&self, user_id: &str) -> bool {
        let mut sockets = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        let count = sockets.entry(user_id.to_owned()).or_default();
        *count += 1;
        *count == 1
    }

    /// Forgets a socket; true when it was the user's last.
    pub fn disconnected(&self, user_id: &str) -> bool {
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

    pub fn is_online(&self, user_id: &str) -> bool {
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
        assert!(presence.connected("a"));
        assert!(!presence.connected("a"));
        assert!(presence.is_online("a"));
        assert!(!presence.disconnected("a"));
        assert!(presence.disconnected("a"));
        assert!(!presence.is_online("a"));
        assert!(!presence.disconnected("a"));
    }
}
