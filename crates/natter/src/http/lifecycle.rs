//! The message lifecycle under `/api/conversations/{id}/messages/{seq}`:
//! edit, delete, and reactions.

use axum::extract::{Path, State};

use super::extract::{Auth, Json};
use crate::contract::bodies::{EditRequest, MessageAnswer};
use crate::contract::events::ErrorBody;
use crate::domain::{ConversationId, Emoji, MessageText, Seq};
use crate::error::{AppError, AppResult};
use crate::services::messages;
use crate::state::Ctx;
use crate::store::changes::Edit;

/// Edits a message: only its sender, not a deleted or system message.
#[utoipa::path(patch, path = "/conversations/{id}/messages/{seq}", tag = "messages",
    params(
        ("id" = String, Path, description = "a conversation id"),
        ("seq" = i64, Path, description = "the message's seq"),
    ),
    request_body = EditRequest,
    responses(
        (status = 200, description = "the edited message, with `editedAt`", body = MessageAnswer),
        (status = 403, description = "`not_sender`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`not_editable`: deleted or system", body = ErrorBody),
        (status = 422, description = "`invalid_message`, `message_too_long`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
    ))]
pub async fn edit(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Path((id, seq)): Path<(String, String)>,
    Json(body): Json<EditRequest>,
) -> AppResult<Json<MessageAnswer>> {
    let text = MessageText::parse(body.msg)?;
    change(&ctx, &user, &id, &seq, Edit::Text(text)).await
}

/// Deletes a message: a tombstone keeps its seq; the text is erased.
#[utoipa::path(delete, path = "/conversations/{id}/messages/{seq}", tag = "messages",
    params(
        ("id" = String, Path, description = "a conversation id"),
        ("seq" = i64, Path, description = "the message's seq"),
    ),
    responses(
        (status = 200, description = "the tombstone, with `deletedAt`", body = MessageAnswer),
        (status = 403, description = "`not_sender`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`not_editable`: already deleted, or a system message", body = ErrorBody),
    ))]
pub async fn delete(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Path((id, seq)): Path<(String, String)>,
) -> AppResult<Json<MessageAnswer>> {
    change(&ctx, &user, &id, &seq, Edit::Delete).await
}

/// Adds the caller's reaction; idempotent.
#[utoipa::path(put, path = "/conversations/{id}/messages/{seq}/reactions/{emoji}", tag = "messages",
    params(
        ("id" = String, Path, description = "a conversation id"),
        ("seq" = i64, Path, description = "the message's seq"),
        ("emoji" = String, Path, description = "one emoji, percent-encoded"),
    ),
    responses(
        (status = 200, body = MessageAnswer),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`not_editable`: deleted or system", body = ErrorBody),
        (status = 422, description = "`invalid_emoji`, `too_many_reactions` (20 distinct)", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
    ))]
pub async fn react(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Path((id, seq, emoji)): Path<(String, String, String)>,
) -> AppResult<Json<MessageAnswer>> {
    let emoji = Emoji::parse(&emoji)?;
    change(&ctx, &user, &id, &seq, Edit::React { emoji, add: true }).await
}

/// Takes the caller's reaction back; idempotent.
#[utoipa::path(delete, path = "/conversations/{id}/messages/{seq}/reactions/{emoji}", tag = "messages",
    params(
        ("id" = String, Path, description = "a conversation id"),
        ("seq" = i64, Path, description = "the message's seq"),
        ("emoji" = String, Path, description = "one emoji, percent-encoded"),
    ),
    responses(
        (status = 200, body = MessageAnswer),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`not_editable`: deleted or system", body = ErrorBody),
        (status = 422, description = "`invalid_emoji`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
    ))]
pub async fn unreact(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Path((id, seq, emoji)): Path<(String, String, String)>,
) -> AppResult<Json<MessageAnswer>> {
    let emoji = Emoji::parse(&emoji)?;
    change(&ctx, &user, &id, &seq, Edit::React { emoji, add: false }).await
}

async fn change(
    ctx: &Ctx,
    user: &crate::services::sessions::AuthUser,
    id: &str,
    seq: &str,
    edit: Edit,
) -> AppResult<Json<MessageAnswer>> {
    let id = ConversationId::parse(id)?;
    // A seq that is not a number names no message.
    let seq = seq.parse().map_err(|_| AppError::NotFound("message"))?;
    let seq = Seq::parse(seq, "seq")?;
    let message = messages::change(ctx, user, &id, seq, edit).await?;
    Ok(Json(MessageAnswer { message }))
}
