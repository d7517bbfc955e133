//! The JSON objects of the wire contract: user, message, conversation.
//!
//! These are what clients see, over HTTP and Socket.IO alike; field names follow
//! `api-contract.md` (camelCase) and may only grow.

use serde::Serialize;
use ts_rs::TS;
use utoipa::ToSchema;

use crate::domain::{ConversationId, MessageId, Millis, UserId};

/// A public profile.
#[derive(Debug, Clone, Serialize, PartialEq, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    /// `/api/avatars/{id}`; append `?size=64` for the small variant.
    pub avatar_url: Option<String>,
    pub status_message: String,
    pub online: bool,
    /// When the user was last connected; `null` while online or never seen.
    pub last_seen_at: Option<Millis>,
}

#[derive(Debug, Clone, Serialize, PartialEq, sqlx::FromRow, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    /// Gapless per conversation, from 1.
    pub seq: i64,
    pub sender_id: UserId,
    /// The sender's username (the original design's `IMsg.user`).
    pub user: String,
    pub msg: String,
    pub client_id: String,
    pub created_at: Millis,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConversationKind {
    Direct,
    Lobby,
}

#[derive(Debug, Clone, Serialize, PartialEq, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    pub id: ConversationId,
    pub kind: ConversationKind,
    /// The other member of a direct conversation; `null` for the lobby.
    pub peer: Option<User>,
    pub last_message: Option<Message>,
    pub unread_count: i64,
    pub last_read_seq: i64,
    pub peer_last_read_seq: i64,
    pub created_at: Millis,
    /// When the last message arrived (or the conversation was created).
    pub last_activity_at: Millis,
}
