//! `/api/conversations` and `POST /api/chat` (the original design's lobby endpoint).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{Auth, Json, Query};
use crate::error::AppResult;
use crate::model::LOBBY_ID;
use crate::services::{conversations, messages};
use crate::state::Ctx;
use crate::store::writer::Sent;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenBody {
    user_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendBody {
    msg: String,
    client_id: String,
}

#[derive(Deserialize)]
pub struct ChatBody {
    msg: String,
    #[serde(rename = "clientId")]
    client_id: Option<String>,
}

#[derive(Deserialize)]
pub struct HistoryParams {
    before: Option<i64>,
    after: Option<i64>,
    limit: Option<i64>,
}

#[derive(Deserialize)]
pub struct ReadBody {
    seq: i64,
}

pub async fn open(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Json(body): Json<OpenBody>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let (conversation, created) = conversations::open_direct(&ctx, &user, &body.user_id).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(json!({ "conversation": conversation }))))
}

pub async fn list(State(ctx): State<Ctx>, Auth(user): Auth) -> AppResult<Json<Value>> {
    Ok(Json(
        json!({ "conversations": conversations::list(&ctx, &user.id).await? }),
    ))
}

pub async fn get(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        json!({ "conversation": conversations::get(&ctx, &user.id, &id).await? }),
    ))
}

pub async fn history(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Path(id): Path<String>,
    Query(params): Query<HistoryParams>,
) -> AppResult<Json<messages::HistoryPage>> {
    let page =
        messages::history(&ctx, &user, &id, params.before, params.after, params.limit).await?;
    Ok(Json(page))
}

pub async fn send(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Path(id): Path<String>,
    Json(body): Json<SendBody>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let sent = messages::send(&ctx, &user, &id, body.msg, body.client_id).await?;
    Ok(sent_response(sent))
}

/// The original design's endpoint: a message in the lobby from the signed-in user.
/// A clientId is optional here; without one, every call is a new message.
pub async fn chat(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Json(body): Json<ChatBody>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let client_id = body.client_id.unwrap_or_else(crate::ids::new_id);
    let sent = messages::send(&ctx, &user, LOBBY_ID, body.msg, client_id).await?;
    Ok(sent_response(sent))
}

pub async fn read(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Path(id): Path<String>,
    Json(body): Json<ReadBody>,
) -> AppResult<StatusCode> {
    conversations::mark_read(&ctx, &user, &id, body.seq).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn sent_response(sent: Sent) -> (StatusCode, Json<Value>) {
    match sent {
        Sent::New(message) => (StatusCode::CREATED, Json(json!({ "message": message }))),
        Sent::Existing(message) => (StatusCode::OK, Json(json!({ "message": message }))),
    }
}
