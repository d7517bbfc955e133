//! Emits server events to rooms. Every socket joins `user:<id>`, so an event for a
//! user reaches all their tabs and devices, on this node or (with an adapter)
//! any other. Each payload is serialised once per emit, whatever the room count.

use serde::Serialize;
use serde_json::json;
use socketioxide::SocketIo;
use tokio::sync::mpsc;

use crate::model::{Conversation, User};
use crate::services::accounts::AuthUser;
use crate::store::conversations::Members;
use crate::store::writer::Committed;

#[derive(Clone)]
pub struct Notifier {
    io: SocketIo,
}

pub fn user_room(user_id: &str) -> String {
    format!("user:{user_id}")
}

impl Notifier {
    pub fn new(io: SocketIo) -> Self {
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
        log_failure(
            self.io
                .to(user_room(user_id))
                .emit("conversation", conversation)
                .await,
        );
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
        log_failure(self.io.emit("presence", &payload).await);
    }

    pub async fn user(&self, user: &User) {
        log_failure(self.io.emit("user", user).await);
    }

    /// Disconnects the user's sockets on this node whose session `ends` says is over
    /// (after a logout or a password change), so a revoked token stops working on
    /// live connections too, not only on new ones.
    pub fn end_sessions(&self, user_id: &str, ends: impl Fn(&AuthUser) -> bool) {
        for socket in self.io.to(user_room(user_id)).sockets() {
            if socket
                .extensions
                .get::<AuthUser>()
                .is_some_and(|session| ends(&session))
            {
                let _ = socket.disconnect();
            }
        }
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
            (Members::Everyone, None) => self.io.emit(event, payload).await,
            (Members::Everyone, Some(except)) => {
                self.io.except(user_room(except)).emit(event, payload).await
            }
            (Members::Pair(a, b), except) => {
                let rooms: Vec<String> = [a, b]
                    .into_iter()
                    .filter(|id| Some(id.as_str()) != except)
                    .map(|id| user_room(id))
                    .collect();
                self.io.to(rooms).emit(event, payload).await
            }
        };
        log_failure(result);
    }
}

fn log_failure<E: std::fmt::Display>(result: Result<(), E>) {
    if let Err(e) = result {
        tracing::warn!("emit failed: {e}");
    }
}
