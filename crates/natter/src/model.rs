//! The JSON objects of the wire contract: user, message, conversation.
//!
//! These are what clients see, over HTTP and Socket.IO alike; field names follow
//! `api-contract.md` (camelCase) and may only grow.

use serde::Serialize;

/// A public profile.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub avatar_url: Option<String>,
    pub status_message: String,
    pub online: bool,
    pub last_seen_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub id: String,
    pub conversation_id: String,
    pub seq: i64,
    pub sender_id: String,
    /// The sender's username (the original design's `IMsg.user`).
    pub user: String,
    pub msg: String,
    pub client_id: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    pub id: String,
    pub kind: &'static str,
    pub peer: Option<User>,
    pub last_message: Option<Message>,
    pub unread_count: i64,
    pub last_read_seq: i64,
    pub peer_last_read_seq: i64,
    pub created_at: i64,
    /// When the last message arrived (or the conversation was created).
    pub last_activity_at: i64,
}

pub const LOBBY_ID: &str = "lobby";
