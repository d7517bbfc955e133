//! Emits [`ServerEvent`]s to rooms: the only way anything reaches a socket.
//! Every socket joins `user:<id>` (and `session:<token hash>`), so an event for
//! a user reaches all their tabs and devices, on this node or, through the Redis
//! adapter, any other. Each payload is serialised once per emit, whatever the
//! room count.
//!
//! `presence` and `user` go to a user's watchers only (see [`Audience::Watchers`]),
//! never to everyone: with everyone, each of N users connecting would cost N
//! packets.
//!
//! While Redis is down, this node's sockets still get every event (the adapter
//! delivers locally before it publishes); the failed publishes are logged at
//! debug level only, since the adapter already logged the outage once.

use socketioxide::socket::Sid;
use tokio::sync::mpsc;

use super::Io;
use crate::contract::Message;
use crate::contract::events::{PresenceEvent, ReadEvent, ServerEvent, TypingEvent};
use crate::contract::{Conversation, User};
use crate::domain::{ConversationId, Millis, UserId};
use crate::store::conversations::Members;
use crate::store::writer::{Announcement, Committed};

#[derive(Clone)]
pub struct Notifier {
    io: Io,
}

pub fn user_room(user_id: &UserId) -> String {
    format!("user:{user_id}")
}

fn rooms_of<'a>(ids: impl Iterator<Item = &'a UserId>, except: &[UserId]) -> Vec<String> {
    ids.filter(|id| !except.contains(id))
        .map(user_room)
        .collect()
}

pub fn session_room(token_hash: &str) -> String {
    format!("session:{token_hash}")
}

/// The sockets of `user_id`'s contacts (users who share a direct or group
/// conversation with them): they hear of `user_id`'s presence and profile.
pub fn contact_room(user_id: &UserId) -> String {
    format!("{CONTACT_PREFIX}{user_id}")
}

/// What every contact room's name starts with.
pub const CONTACT_PREFIX: &str = "contact:";

/// The sockets that asked to hear of `user_id` with `presence:subscribe`. Kept
/// apart from [`contact_room`] so that unsubscribing never ends what a shared
/// conversation gives.
pub fn watch_room(user_id: &UserId) -> String {
    format!("watch:{user_id}")
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

/// Who an event goes to.
enum Audience<'a> {
    User(&'a UserId),
    /// Those who hear of a user's presence and profile: the user's own sockets,
    /// their contacts' and their subscribers'. One emit to three rooms, which
    /// the adapter resolves on each node, so the cost follows the audience,
    /// not the number of sockets connected.
    Watchers(&'a UserId),
    Members {
        members: &'a Members,
        /// Members left out: the actor, and for typing whoever blocks it.
        except: &'a [UserId],
    },
}

impl Notifier {
    pub fn new(io: Io) -> Self {
        Self { io }
    }

    /// Whether Redis answers; `None` on a single node.
    pub fn redis_ready(&self) -> Option<bool> {
        super::redis_ready(&self.io)
    }

    /// False while Redis is configured but down: events reach this node's
    /// sockets only, and sessions cannot be ended on the other nodes.
    pub fn reaches_every_node(&self) -> bool {
        self.redis_ready() != Some(false)
    }

    /// Delivers committed changes in the order the writer committed them:
    /// `message` for new messages, `message:update` for changed ones.
    pub fn spawn_message_fanout(&self, mut committed: mpsc::UnboundedReceiver<Committed>) {
        let notifier = self.clone();
        tokio::spawn(async move {
            while let Some(c) = committed.recv().await {
                for news in c.news {
                    let event = match news {
                        Announcement::New(message) => ServerEvent::Message(message),
                        Announcement::Updated(message) => ServerEvent::MessageUpdate(message),
                    };
                    let audience = Audience::Members {
                        members: &c.members,
                        except: &[],
                    };
                    notifier.emit(audience, event).await;
                }
            }
        });
    }

    /// A message stored outside the writer (a new group's first).
    pub async fn new_message(&self, members: &Members, message: Message) {
        let audience = Audience::Members {
            members,
            except: &[],
        };
        self.emit(audience, ServerEvent::Message(message)).await;
    }

    pub async fn conversation(&self, user_id: &UserId, conversation: &Conversation) {
        let event = ServerEvent::Conversation(Box::new(conversation.clone()));
        self.emit(Audience::User(user_id), event).await;
    }

    /// Tells the members but `user_id` and those who block it that it types.
    pub async fn typing(
        &self,
        members: &Members,
        conversation_id: &ConversationId,
        user_id: &UserId,
        blockers: &[UserId],
    ) {
        let event = ServerEvent::Typing(TypingEvent {
            conversation_id: conversation_id.clone(),
            user_id: user_id.clone(),
        });
        let except: Vec<UserId> = std::iter::once(user_id).chain(blockers).cloned().collect();
        let audience = Audience::Members {
            members,
            except: &except,
        };
        self.emit(audience, event).await;
    }

    pub async fn read(
        &self,
        members: &Members,
        conversation_id: &ConversationId,
        user_id: &UserId,
        seq: i64,
    ) {
        let event = ServerEvent::Read(ReadEvent {
            conversation_id: conversation_id.clone(),
            user_id: user_id.clone(),
            seq,
        });
        let audience = Audience::Members {
            members,
            except: std::slice::from_ref(user_id),
        };
        self.emit(audience, event).await;
    }

    pub async fn presence(&self, user_id: &UserId, online: bool, last_seen_at: Option<Millis>) {
        let event = ServerEvent::Presence(PresenceEvent {
            user_id: user_id.clone(),
            online,
            last_seen_at,
        });
        self.emit(Audience::Watchers(user_id), event).await;
    }

    pub async fn user(&self, user: &User) {
        self.emit(
            Audience::Watchers(&user.id),
            ServerEvent::User(user.clone()),
        )
        .await;
    }

    /// The users now share a conversation: each one's sockets, on every node,
    /// start hearing of the others' presence and profile. Starting a direct
    /// conversation calls this; so should anything else that makes contacts
    /// (joining a group).
    pub async fn become_contacts(&self, users: &[&UserId]) {
        for user in users {
            let rooms: Vec<String> = users
                .iter()
                .filter(|other| *other != user)
                .map(|other| contact_room(other))
                .collect();
            let sockets = user_room(user);
            self.log_failure(with_io!(self, io => io.to(sockets).join(rooms).await));
        }
    }

    /// Disconnects every socket of the given sessions, on every node, so a
    /// revoked token stops working on live connections too, not only on new ones.
    pub async fn end_sessions(&self, token_hashes: &[String]) {
        for hash in token_hashes {
            let room = session_room(hash);
            self.log_failure(with_io!(self, io => io.to(room).disconnect().await));
        }
    }

    /// How many sockets other than `this` the user has, on every node (on this
    /// node only when the other nodes cannot be asked).
    pub async fn other_sockets_of(&self, user_id: &UserId, this: Sid) -> usize {
        let room = user_room(user_id);
        let count = with_io!(self, io => io.to(room.clone()).fetch_sockets().await.map(|sockets| {
            sockets.iter().filter(|s| s.data().id != this).count()
        }));
        match count {
            Ok(count) => count,
            Err(e) => {
                self.log_failure::<()>(Err(format!("counting sockets on every node: {e}")));
                let local = with_io!(self, io => io.local().to(room).fetch_sockets().await.map(|sockets| {
                    sockets.iter().filter(|s| s.data().id != this).count()
                }));
                local.unwrap_or(0)
            }
        }
    }

    async fn emit(&self, audience: Audience<'_>, event: ServerEvent) {
        let (name, data) = (event.name(), event.data());
        let result = match audience {
            Audience::User(user_id) => {
                let room = user_room(user_id);
                with_io!(self, io => io.to(room).emit(name, &data).await)
            }
            Audience::Watchers(user_id) => {
                let rooms = [
                    user_room(user_id),
                    contact_room(user_id),
                    watch_room(user_id),
                ];
                with_io!(self, io => io.to(rooms).emit(name, &data).await)
            }
            Audience::Members {
                members: Members::Everyone,
                except: [],
            } => with_io!(self, io => io.emit(name, &data).await),
            Audience::Members {
                members: Members::Everyone,
                except,
            } => {
                let rooms: Vec<String> = except.iter().map(user_room).collect();
                with_io!(self, io => io.except(rooms).emit(name, &data).await)
            }
            Audience::Members {
                members: Members::Pair(a, b),
                except,
            } => {
                let rooms = rooms_of([a, b].into_iter(), except);
                // `to` with no room at all would address every socket.
                if rooms.is_empty() {
                    return;
                }
                with_io!(self, io => io.to(rooms).emit(name, &data).await)
            }
            // A group's members as read in the transaction of the change: a
            // removed member's rooms are simply not addressed from then on, on
            // every node, whatever sockets they hold.
            Audience::Members {
                members: Members::Group(ids),
                except,
            } => {
                let rooms = rooms_of(ids.iter(), except);
                if rooms.is_empty() {
                    return;
                }
                with_io!(self, io => io.to(rooms).emit(name, &data).await)
            }
        };
        self.log_failure(result);
    }

    fn log_failure<T>(&self, result: Result<T, String>) {
        if let Err(e) = result {
            metrics::counter!(crate::telemetry::EMIT_FAILURES).increment(1);
            if self.reaches_every_node() {
                tracing::warn!("emit failed: {e}");
            } else {
                tracing::debug!("emit not published, Redis is down: {e}");
            }
        }
    }
}
