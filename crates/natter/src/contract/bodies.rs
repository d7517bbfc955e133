//! HTTP request and answer bodies. Requests carry raw strings: the handlers
//! parse them into domain types, so that each rule answers with its own error
//! code (422 `invalid_username`, …) rather than a generic 400 from the decoder.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::{IntoParams, ToSchema};

use super::objects::{Conversation, Member, Message, User};

#[derive(Debug, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    pub username: String,
    pub password: String,
    #[ts(optional)]
    pub display_name: Option<String>,
}

#[derive(Debug, Deserialize, TS, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// `{user, token}`; the same token is also set as the HttpOnly session cookie.
#[derive(Debug, Serialize, TS, ToSchema)]
pub struct SessionAnswer {
    pub user: User,
    pub token: String,
}

#[derive(Debug, Serialize, TS, ToSchema)]
pub struct UserAnswer {
    pub user: User,
}

#[derive(Debug, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfilePatch {
    #[ts(optional)]
    pub display_name: Option<String>,
    #[ts(optional)]
    pub status_message: Option<String>,
}

#[derive(Debug, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// The multipart form of `POST /api/uploads`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AttachmentUpload {
    /// Any file up to `NATTER_MAX_UPLOAD` (25 MiB by default).
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    pub file: Vec<u8>,
}

/// The multipart form of `PUT /api/me/avatar`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AvatarUpload {
    /// PNG, JPEG, WebP or GIF, at most 5 MiB.
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    pub avatar: Vec<u8>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DirectoryParams {
    /// Case-insensitive, on username or display name; at most 64 characters.
    pub q: Option<String>,
    /// 1–100, default 50.
    pub limit: Option<i64>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// 2–100 characters after trimming; case-insensitive substring.
    pub q: Option<String>,
    /// Only this conversation (the caller must be a member).
    #[serde(rename = "conversationId")]
    pub conversation_id: Option<String>,
    /// 1–50, default 20.
    pub limit: Option<i64>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

/// Matching messages, newest first.
#[derive(Debug, Serialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchPage {
    pub messages: Vec<Message>,
    /// Pass back as `cursor` for the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

/// Mutes or unmutes a conversation for the caller.
#[derive(Debug, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MuteRequest {
    pub muted: bool,
}

#[derive(Debug, Serialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsersPage {
    pub users: Vec<User>,
    /// Pass back as `cursor` for the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

/// `GET /api/me/blocks`: the users the caller blocks, the latest first.
#[derive(Debug, Serialize, TS, ToSchema)]
pub struct BlockedUsers {
    pub users: Vec<User>,
}

/// `{userId}` opens a direct conversation; `{kind: "group", title, userIds}`
/// creates a group.
#[derive(Debug, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenConversation {
    #[ts(optional)]
    pub user_id: Option<String>,
    /// `group` to create a group; absent or `direct` otherwise.
    #[ts(optional, type = "\"direct\" | \"group\"")]
    pub kind: Option<String>,
    /// A group's title: 1–100 characters.
    #[ts(optional)]
    pub title: Option<String>,
    /// A group's other members: 1–255 user ids.
    #[ts(optional)]
    pub user_ids: Option<Vec<String>>,
}

/// `PATCH /api/conversations/{id}`.
#[derive(Debug, Deserialize, TS, ToSchema)]
pub struct RenameRequest {
    pub title: String,
}

#[derive(Debug, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddMembersRequest {
    pub user_ids: Vec<String>,
}

#[derive(Debug, Serialize, TS, ToSchema)]
pub struct MembersAnswer {
    pub members: Vec<Member>,
}

/// `PATCH /api/conversations/{id}/messages/{seq}`.
#[derive(Debug, Deserialize, TS, ToSchema)]
pub struct EditRequest {
    pub msg: String,
}

#[derive(Debug, Serialize, TS, ToSchema)]
pub struct ConversationAnswer {
    pub conversation: Conversation,
}

#[derive(Debug, Serialize, TS, ToSchema)]
pub struct ConversationsAnswer {
    pub conversations: Vec<Conversation>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// Messages with a smaller seq (older), newest page first when absent.
    pub before: Option<i64>,
    /// Messages with a larger seq (newer): catching up.
    pub after: Option<i64>,
    /// Every message changed after this rev (new, edited, deleted, reacted
    /// to), ascending by rev; not with `before`/`after`.
    #[serde(rename = "sinceRev")]
    pub since_rev: Option<i64>,
    /// 1–100, default 50.
    pub limit: Option<i64>,
}

/// A page of history in ascending seq, and whether more lie beyond it in the
/// direction of travel (older for `before` or no cursor, newer for `after`).
// Answered as a `HistoryPageJson`.
#[derive(Debug, Serialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryPage {
    pub messages: Vec<Message>,
    pub has_more: bool,
}

/// A [`HistoryPage`] already written out as JSON, answered as it is.
///
/// On SQLite the database writes the whole answer (`store::page_json`);
/// reading it into a `RawValue` parsed it once more only to check it, about 6%
/// of a page's CPU, and embedding it in a serialized struct copied it again.
pub struct HistoryPageJson(String);

impl HistoryPageJson {
    /// The page serialized by serde.
    pub fn from_page(page: &HistoryPage) -> serde_json::Result<Self> {
        serde_json::to_string(page).map(Self)
    }

    /// A page written by the store's own SQL, in [`HistoryPage`]'s shape. The
    /// API tests compare such pages with the live events, field by field.
    pub(crate) fn written_by_store(json: String) -> Self {
        Self(json)
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[derive(Debug, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendRequest {
    /// May be empty when `attachments` is not.
    pub msg: String,
    pub client_id: String,
    /// The seq of the message this one replies to, in the same conversation.
    #[ts(optional)]
    pub reply_to: Option<i64>,
    /// 1–10 ids of the sender's own unused uploads.
    #[serde(default)]
    #[ts(optional)]
    pub attachments: Option<Vec<String>>,
}

/// `POST /api/uploads`: the stored file.
#[derive(Debug, Serialize, TS, ToSchema)]
pub struct AttachmentAnswer {
    pub attachment: crate::contract::Attachment,
}

/// The original design's lobby message; without a clientId every call is new.
#[derive(Debug, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatRequest {
    pub msg: String,
    #[ts(optional)]
    pub client_id: Option<String>,
}

#[derive(Debug, Serialize, TS, ToSchema)]
pub struct MessageAnswer {
    pub message: Message,
}

#[derive(Debug, Deserialize, TS, ToSchema)]
pub struct ReadRequest {
    pub seq: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AvatarParams {
    /// 64 or less for the 64 px variant; the 256 px one otherwise.
    pub size: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or what is down.
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    pub status: String,
    /// `ok` or `down`.
    pub database: String,
    /// `ok` or `down`; absent on a node without Redis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<String>,
}
