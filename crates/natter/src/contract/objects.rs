//! The JSON objects of the wire contract: user, message, conversation.
//!
//! These are what clients see, over HTTP and Socket.IO alike; field names follow
//! `api-contract.md` (camelCase) and may only grow.

use serde::Serialize;
use ts_rs::TS;
use utoipa::ToSchema;

use crate::domain::{AttachmentId, ConversationId, MessageId, Millis, UserId};

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

#[derive(Debug, Clone, Serialize, PartialEq, TS, ToSchema)]
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
    /// `text`, or `system` for membership and title changes.
    #[serde(rename = "type")]
    pub kind: MessageType,
    /// What a system message records; `null` on text messages.
    pub system: Option<SystemInfo>,
    /// The message this one answers; `null` when it is not a reply.
    pub reply_to: Option<ReplyTo>,
    pub edited_at: Option<Millis>,
    /// Set on a tombstone: `msg` is then empty and `reactions` and `replyTo` too.
    pub deleted_at: Option<Millis>,
    /// In order of each emoji's first use.
    pub reactions: Vec<Reaction>,
    /// The files sent with the message, in the order given; empty otherwise.
    pub attachments: Vec<Attachment>,
    /// The conversation's `rev` at this message's latest change.
    pub rev: i64,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageType {
    Text,
    System,
}

#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize, PartialEq, Eq, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SystemAction {
    Created,
    MembersAdded,
    MemberRemoved,
    MemberLeft,
    TitleChanged,
}

/// A membership or title change, as recorded in the history.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SystemInfo {
    pub action: SystemAction,
    pub actor_id: UserId,
    /// `created`: the other initial members; `members_added`: those newly
    /// added; `member_removed`: the removed member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub user_ids: Option<Vec<UserId>>,
    /// `created` and `title_changed`: the (new) title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub title: Option<String>,
}

/// The quoted original of a reply, as it is now (edited, or `msg: ""` once deleted).
#[derive(Debug, Clone, Serialize, PartialEq, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplyTo {
    pub seq: i64,
    pub sender_id: UserId,
    /// The first 200 characters (code points) of the original.
    pub msg: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reaction {
    pub emoji: String,
    /// In the order they reacted.
    pub user_ids: Vec<UserId>,
}

/// An uploaded file. `width`, `height` and `thumbUrl` are set only for images
/// (PNG, JPEG, WebP, GIF); the URLs answer only the uploader and the members of
/// the conversation the file was sent to.
#[derive(Debug, Clone, Serialize, PartialEq, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub id: AttachmentId,
    pub name: String,
    /// `image/png`, `image/jpeg`, `image/webp`, `image/gif` or `application/octet-stream`.
    pub content_type: String,
    /// In bytes.
    pub size: i64,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub url: String,
    /// A WebP of at most 320 × 320 pixels.
    pub thumb_url: Option<String>,
}

/// A member of a conversation, with their read mark.
#[derive(Debug, Clone, Serialize, PartialEq, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub user: User,
    pub last_read_seq: i64,
    pub joined_at: Millis,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConversationKind {
    Direct,
    Group,
    Lobby,
}

#[derive(Debug, Clone, Serialize, PartialEq, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    pub id: ConversationId,
    pub kind: ConversationKind,
    /// The other member of a direct conversation; `null` for groups and the lobby.
    pub peer: Option<User>,
    /// A group's title; `null` for direct conversations and the lobby.
    pub title: Option<String>,
    /// A group's owner; `null` unless a group.
    pub owner_id: Option<UserId>,
    pub member_count: i64,
    /// The counter of changes: `GET …/messages?sinceRev=` from here on.
    pub rev: i64,
    pub last_message: Option<Message>,
    pub unread_count: i64,
    pub last_read_seq: i64,
    pub peer_last_read_seq: i64,
    /// The caller muted it: no desktop notification, not in the unread total.
    pub muted: bool,
    pub created_at: Millis,
    /// When the last message arrived (or the conversation was created).
    pub last_activity_at: Millis,
}
