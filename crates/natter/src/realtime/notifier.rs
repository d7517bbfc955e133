//! Emits server events to rooms. Every socket joins `user:<id>` (and
//! `session:<token hash>`), so an event for a user reaches all their tabs and
//! devices, on this node or, through the Redis adapter, any other. Each payload
//! is serialised once per emit, whatever the room count.

use serde::Serialize;
use serde_json::json;
use socketioxide::socket::Sid;
use tokio::sync::mpsc;

use super::Io;
use crate::model::{Conversation, User};
use crate::store::conversations::Members;
use crate::store::writer::Committed;

#[derive(Clone)]
pub struct Notifier {
    io: Io,
}

pub fn user_room(user_id: &str) -> String {
    format!("user:{user_id}")
}

pub fn session_room(token_hash: &str) -> String {
    format!("session:{token_hash}")
}

/// Runs `$body` with `$io` bound to the handle, whichever adapter it has.
macro_rules! with_io {
    ($notifier:expr, $io:ident => $body:expr) => {
        match &$notifier.io {
            Io::Local($io) => $body.map_err(|e| e.to_string()),
            Io::Redis($io) => $body.map_err(|e| e.to_string()),
        }
    };
}

impl Notifier {
    pub fn new(io: Io) -> Self {
        Self { io }
    }

    /// Delivers committed messages in the order the writer committed them.
    pub fn spawn_message_fanout(&self, mut committed: mpsc::UnboundedReceiver<Committed>) {
        let notifier = self.clone();
        tokio::spawn(async move {
            while let Some(c) = committed.recv().await {
                notifier
                    .to_members(&c.members, None, "message", &c.message)
                    .await;
            }
        });
    }

    pub async fn conversation(&self, user_id: &str, conversation: &Conversation) {
        let room = user_room(user_id);
        log_failure(with_io!(self, io => io.to(room).emit("conversation", conversation).await));
    }

    pub async fn typing(&self, members: &Members, conversation_id: &str, user_id: &str) {
        let payload = json!({ "conversationId": conversation_id, "userId": user_id });
        self.to_members(members, Some(user_id), "typing", &payload)
            .await;
    }

    pub async fn read(&self, members: &Members, conversation_id: &str, user_id: &str, seq: i64) {
        let payload = json!({ "conversationId": conversation_id, "userId": user_id, "seq": seq });
        self.to_members(members, Some(user_id), "read", &payload)
            .await;
    }

    pub async fn presence(&self, user_id: &str, online: bool, last_seen_at: Option<i64>) {
        let payload = json!({ "userId": user_id, "online": online, "lastSeenAt": last_seen_at });
        log_failure(with_io!(self, io => io.emit("presence", &payload).await));
    }

    pub async fn user(&self, user: &User) {
        log_failure(with_io!(self, io => io.emit("user", user).await));
    }

    /// Disconnects every socket of the given sessions, on every node, so a
    /// revoked token stops working on live connections too, not only on new ones.
    pub async fn end_sessions(&self, token_hashes: &[String]) {
        for hash in token_hashes {
            let room = session_room(hash);
            log_failure(with_io!(self, io => io.to(room).disconnect().await));
        }
    }

    /// How many sockets other than `this` the user has, on every node (0 when the
    /// count fails).
    pub async fn other_sockets_of(&self, user_id: &str, this: Sid) -> usize {
        let room = user_room(user_id);
        let count = with_io!(self, io => io.to(room).fetch_sockets().await.map(|sockets| {
            sockets.iter().filter(|s| s.data().id != this).count()
        }));
        count.unwrap_or_else(|e| {
            tracing::warn!("counting sockets failed: {e}");
            0
        })
    }

    /// Emits to every member's room, leaving out `except`'s sockets when given.
    async fn to_members<T: Serialize + ?Sized>(
        &self,
        members: &Members,
        except: Option<&str>,
        event: &'static str,
        payload: &T,
    ) {
        let result = match (members, except) {
            (Members::Everyone, None) => with_io!(self, io => io.emit(event, payload).await),
            (Members::Everyone, Some(except)) => {
                let room = user_room(except);
                with_io!(self, io => io.except(room).emit(event, payload).await)
            }
            (Members::Pair(a, b), except) => {
                let rooms: Vec<String> = [a, b]
                    .into_iter()
                    .filter(|id| Some(id.as_str()) != except)
                    .map(|id| user_room(id))
                    .collect();
                with_io!(self, io => io.to(rooms).emit(event, payload).await)
            }
        };
        log_failure(result);
    }
}

fn log_failure(result: Result<(), String>) {
    if let Err(e) = result {
        tracing::warn!("emit failed: {e}");
    }
}
