//! Sending and reading messages. `send` is the one path for
//! `POST /api/conversations/{id}/messages`, `POST /api/chat` and the socket
//! event `message:send`: authorise, store durably (the writer also hands the
//! message to the notifier, in seq order), answer. Every send first takes a
//! token from the sender's bucket ([`super::rate_limits`]).

use super::conversations::membership;
use super::rate_limits::Action;
use super::sessions::AuthUser;
use crate::contract::bodies::HistoryPage;
use crate::domain::{ClientId, ConversationId, MessageText, PageLimit, Seq};
use crate::error::AppResult;
use crate::state::Ctx;
use crate::store::messages::PageQuery;
use crate::store::writer::{SendRequest, Sent};

pub async fn send(
    ctx: &Ctx,
    sender: &AuthUser,
    conversation_id: &ConversationId,
    msg: MessageText,
    client_id: ClientId,
) -> AppResult<Sent> {
    ctx.limits.check(Action::Send, &sender.id)?;
    let members = membership(ctx, &sender.id, conversation_id).await?;
    Ok(ctx
        .writer
        .send(SendRequest {
            conversation_id: conversation_id.clone(),
            members,
            sender_id: sender.id.clone(),
            sender_username: sender.username.clone(),
            msg,
            client_id,
        })
        .await?)
}

pub async fn history(
    ctx: &Ctx,
    reader: &AuthUser,
    conversation_id: &ConversationId,
    page: PageQuery,
) -> AppResult<HistoryPage> {
    membership(ctx, &reader.id, conversation_id).await?;
    let (messages, has_more) = ctx.store.messages_page(conversation_id, page).await?;
    Ok(HistoryPage { messages, has_more })
}

/// A history query from the wire's optional cursors and limit.
pub fn page_query(
    before: Option<i64>,
    after: Option<i64>,
    limit: Option<i64>,
) -> AppResult<PageQuery> {
    Ok(PageQuery {
        before: before.map(|s| Seq::parse(s, "before")).transpose()?,
        after: after.map(|s| Seq::parse(s, "after")).transpose()?,
        limit: PageLimit::parse(limit)?,
    })
}
