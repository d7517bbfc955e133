//! `/api/conversations` and `POST /api/chat` (the original design's lobby endpoint).

use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::extract::{Auth, Json, Query};
use crate::contract::bodies::{
    ChatRequest, ConversationAnswer, ConversationsAnswer, HistoryPage, HistoryPageJson,
    HistoryParams, MessageAnswer, MuteRequest, OpenConversation, ReadRequest, SendRequest,
};
use crate::contract::events::ErrorBody;
use crate::domain::{ClientId, ConversationId, MessageText, Seq, UserId};
use crate::error::{AppError, AppResult};
use crate::services::messages::Outgoing;
use crate::services::{conversations, groups, messages};
use crate::state::Ctx;
use crate::store::writer::Sent;

/// Opens the caller's direct conversation with a user, creating it on first
/// use (`{userId}`), or creates a group (`{kind: "group", title, userIds}`).
#[utoipa::path(post, path = "/conversations", tag = "conversations",
    request_body = OpenConversation,
    responses(
        (status = 201, description = "created", body = ConversationAnswer),
        (status = 200, description = "it already existed", body = ConversationAnswer),
        (status = 403, description = "`blocked`: one of the two blocks the other and they have no chat yet", body = ErrorBody),
        (status = 400, description = "`invalid_body`: no `userId`, or a group without `title` or `userIds`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such user", body = ErrorBody),
        (status = 422, description = "`cannot_chat_with_self`, `invalid_kind`, `invalid_title`, `invalid_members`, `too_many_members`", body = ErrorBody),
    ))]
pub async fn open(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Json(body): Json<OpenConversation>,
) -> AppResult<(StatusCode, Json<ConversationAnswer>)> {
    match body.kind.as_deref() {
        Some("group") => {
            let (Some(title), Some(user_ids)) = (body.title, body.user_ids) else {
                return Err(missing("a group needs `title` and `userIds`"));
            };
            let conversation = groups::create(&ctx, &user, &title, &user_ids).await?;
            return Ok((
                StatusCode::CREATED,
                Json(ConversationAnswer { conversation }),
            ));
        }
        None | Some("direct") => {}
        Some(_) => {
            return Err(AppError::invalid(
                "invalid_kind",
                "kind is `direct` or `group`",
            ));
        }
    }
    let peer = body
        .user_id
        .ok_or_else(|| missing("`userId` is required"))?;
    let peer = UserId::parse(&peer).map_err(|_| AppError::NotFound("user"))?;
    let (conversation, created) = conversations::open_direct(&ctx, &user, &peer).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(ConversationAnswer { conversation })))
}

/// The caller's conversations (the lobby included), most recent activity first.
#[utoipa::path(get, path = "/conversations", tag = "conversations",
    responses(
        (status = 200, body = ConversationsAnswer),
    ))]
pub async fn list(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
) -> AppResult<Json<ConversationsAnswer>> {
    let conversations = conversations::list(&ctx, &user.id).await?;
    Ok(Json(ConversationsAnswer { conversations }))
}

#[utoipa::path(get, path = "/conversations/{id}", tag = "conversations",
    params(("id" = String, Path, description = "a conversation id, or `lobby`")),
    responses(
        (status = 200, body = ConversationAnswer),
        (status = 404, description = "`not_found`, also for a conversation of others", body = ErrorBody),
    ))]
pub async fn get(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<ConversationAnswer>> {
    let id = ConversationId::parse(&id)?;
    let conversation = conversations::get(&ctx, &user.id, &id).await?;
    Ok(Json(ConversationAnswer { conversation }))
}

/// Mutes or unmutes the conversation for the caller (stored on the server,
/// so every device of theirs agrees).
#[utoipa::path(put, path = "/conversations/{id}/mute", tag = "conversations",
    params(("id" = String, Path, description = "a conversation id, or `lobby`")),
    request_body = MuteRequest,
    responses(
        (status = 200, body = ConversationAnswer),
        (status = 404, description = "`not_found`, also for a conversation of others", body = ErrorBody),
    ))]
pub async fn mute(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Path(id): Path<String>,
    Json(body): Json<MuteRequest>,
) -> AppResult<Json<ConversationAnswer>> {
    let id = ConversationId::parse(&id)?;
    let conversation = conversations::set_muted(&ctx, &user.id, &id, body.muted).await?;
    Ok(Json(ConversationAnswer { conversation }))
}

/// A page of history by keyset on seq.
#[utoipa::path(get, path = "/conversations/{id}/messages", tag = "messages",
    params(("id" = String, Path, description = "a conversation id, or `lobby`"), HistoryParams),
    responses(
        (status = 200, body = HistoryPage),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_seq`, `invalid_limit`, `invalid_cursor`", body = ErrorBody),
    ))]
pub async fn history(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Path(id): Path<String>,
    Query(params): Query<HistoryParams>,
) -> AppResult<HistoryPageJson> {
    let page = messages::page_query(params.before, params.after, params.since_rev, params.limit)?;
    let id = ConversationId::parse(&id)?;
    messages::history(&ctx, &user, &id, page).await
}

/// The page goes out as written, unparsed.
impl axum::response::IntoResponse for HistoryPageJson {
    fn into_response(self) -> axum::response::Response {
        let json = [(axum::http::header::CONTENT_TYPE, "application/json")];
        (json, self.into_string()).into_response()
    }
}

/// Sends a message; acknowledged after the durable commit. A retried clientId
/// answers 200 with the message stored the first time.
#[utoipa::path(post, path = "/conversations/{id}/messages", tag = "messages",
    params(("id" = String, Path, description = "a conversation id, or `lobby`")),
    request_body = SendRequest,
    responses(
        (status = 201, description = "stored", body = MessageAnswer),
        (status = 200, description = "this clientId was already stored", body = MessageAnswer),
        (status = 403, description = "`blocked`: a direct chat between a blocked pair", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_message`, `message_too_long`, `invalid_client_id`, `invalid_reply`, `invalid_attachment`, `too_many_attachments`", body = ErrorBody),
        (status = 409, description = "`attachment_used`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: the sender's send rate limit, with `Retry-After`", body = ErrorBody),
    ))]
pub async fn send(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Path(id): Path<String>,
    Json(body): Json<SendRequest>,
) -> AppResult<(StatusCode, Json<MessageAnswer>)> {
    let outgoing = Outgoing::parse(body.msg, body.client_id, body.reply_to, body.attachments)?;
    let id = ConversationId::parse(&id)?;
    let sent = messages::send(&ctx, &user, &id, outgoing).await?;
    Ok(sent_response(sent))
}

/// The original design's endpoint: a message in the lobby from the signed-in
/// user. A clientId is optional here; without one, every call is a new message.
#[utoipa::path(post, path = "/chat", tag = "messages",
    request_body = ChatRequest,
    responses(
        (status = 201, description = "stored", body = MessageAnswer),
        (status = 200, description = "this clientId was already stored", body = MessageAnswer),
        (status = 422, description = "`invalid_message`, `message_too_long`, `invalid_client_id`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: the sender's send rate limit, with `Retry-After`", body = ErrorBody),
    ))]
pub async fn chat(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Json(body): Json<ChatRequest>,
) -> AppResult<(StatusCode, Json<MessageAnswer>)> {
    let msg = MessageText::parse(body.msg)?;
    let client_id = match body.client_id {
        Some(raw) => ClientId::parse(raw)?,
        None => ClientId::generate(),
    };
    let outgoing = Outgoing {
        msg,
        client_id,
        reply_to: None,
        attachments: vec![],
    };
    let sent = messages::send(&ctx, &user, &ConversationId::lobby(), outgoing).await?;
    Ok(sent_response(sent))
}

/// Moves the caller's read mark forward (never back).
#[utoipa::path(post, path = "/conversations/{id}/read", tag = "conversations",
    params(("id" = String, Path, description = "a conversation id, or `lobby`")),
    request_body = ReadRequest,
    responses(
        (status = 204, description = "stored (or already further)"),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_seq`: negative, or beyond the last message", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many read marks, with `Retry-After`", body = ErrorBody),
    ))]
pub async fn read(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Path(id): Path<String>,
    Json(body): Json<ReadRequest>,
) -> AppResult<StatusCode> {
    let seq = Seq::parse(body.seq, "seq")?;
    let id = ConversationId::parse(&id)?;
    conversations::mark_read(&ctx, &user, &id, seq).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// 400 `invalid_body`, as the JSON extractor answers for a missing field.
fn missing(what: &str) -> AppError {
    AppError::bad_request("invalid_body", format!("invalid body: {what}"))
}

fn sent_response(sent: Sent) -> (StatusCode, Json<MessageAnswer>) {
    match sent {
        Sent::New(message) => (StatusCode::CREATED, Json(MessageAnswer { message })),
        Sent::Existing(message) => (StatusCode::OK, Json(MessageAnswer { message })),
    }
}
