//! Sending and reading messages. `send` is the one path for
//! `POST /api/conversations/{id}/messages`, `POST /api/chat` and the socket
//! event `message:send`: validate, authorise, store durably (the writer also
//! hands the message to the notifier, in seq order), answer.

use super::conversations::membership;
use super::validate;
use crate::error::AppResult;
use serde_json::value::RawValue;

use crate::services::accounts::AuthUser;
use crate::state::Ctx;
use crate::store::messages::PageQuery;
use crate::store::writer::{SendRequest, Sent};

pub async fn send(
    ctx: &Ctx,
    sender: &AuthUser,
    conversation_id: &str,
    msg: String,
    client_id: String,
) -> AppResult<Sent> {
    validate::message_text(&msg)?;
    validate::client_id(&client_id)?;
    ctx.writer
        .send(SendRequest {
            conversation_id: conversation_id.to_owned(),
            sender_id: sender.id.clone(),
            sender_username: sender.username.clone(),
            msg,
            client_id,
        })
        .await
}

/// A page of history, ready for the wire: `{messages, hasMore}`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryPage {
    /// A JSON array of message objects, as the database built it.
    pub messages: Box<RawValue>,
    pub has_more: bool,
}

pub async fn history(
    ctx: &Ctx,
    reader: &AuthUser,
    conversation_id: &str,
    before: Option<i64>,
    after: Option<i64>,
    limit: Option<i64>,
) -> AppResult<HistoryPage> {
    let page = PageQuery {
        before: before.map(|s| validate::seq(s, "before")).transpose()?,
        after: after.map(|s| validate::seq(s, "after")).transpose()?,
        limit: validate::page_limit(limit)?,
    };
    membership(ctx, &reader.id, conversation_id).await?;
    let (messages, has_more) = ctx.store.messages_page(conversation_id, page).await?;
    Ok(HistoryPage { messages, has_more })
}
