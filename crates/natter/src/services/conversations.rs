//! Conversations: starting a direct chat, the list, one conversation, who may
//! use one, read marks and typing (groups: [`super::groups`]). Non-members get the same 404 as for a
//! conversation that does not exist.

use std::collections::HashMap;

use super::rate_limits::{Action, Typing};
use super::sessions::AuthUser;
use super::{blocks, public_user};
use crate::contract::{Conversation, ConversationKind, Message};
use crate::domain::{ConversationId, Seq, UserId, now_ms};
use crate::error::{AppError, AppResult};
use crate::state::Ctx;
use crate::store::conversations::{ConversationRow, Members};

/// Opens the caller's direct conversation with `peer_id`, creating it on first use.
/// Returns the conversation and whether it was created.
pub async fn open_direct(
    ctx: &Ctx,
    caller: &AuthUser,
    peer_id: &UserId,
) -> AppResult<(Conversation, bool)> {
    if *peer_id == caller.id {
        return Err(AppError::invalid(
            "cannot_chat_with_self",
            "you cannot start a chat with yourself",
        ));
    }
    if ctx.store.user_by_id(peer_id).await?.is_none() {
        return Err(AppError::NotFound("user"));
    }
    // A blocked pair keeps a chat it already has (its history stays readable)
    // but cannot start one.
    if ctx
        .store
        .direct_between(&caller.id, peer_id)
        .await?
        .is_none()
    {
        blocks::ensure_not_blocked(ctx, &caller.id, peer_id).await?;
    }
    let (id, created) = ctx
        .store
        .find_or_create_direct(&caller.id, peer_id, &ConversationId::generate(), now_ms())
        .await?;
    let conversation = get(ctx, &caller.id, &id).await?;
    if created {
        ctx.notifier.become_contacts(&[&caller.id, peer_id]).await;
        ctx.notifier.conversation(&caller.id, &conversation).await;
        let theirs = get(ctx, peer_id, &id).await?;
        ctx.notifier.conversation(peer_id, &theirs).await;
    }
    Ok((conversation, created))
}

pub async fn list(ctx: &Ctx, user_id: &UserId) -> AppResult<Vec<Conversation>> {
    let rows = ctx.store.conversations_of(user_id).await?;
    // Every last message in one query, not one per conversation.
    let keys: Vec<(&ConversationId, i64)> = rows
        .iter()
        .filter(|row| row.last_seq > 0)
        .map(|row| (&row.id, row.last_seq))
        .collect();
    let mut last_messages: HashMap<ConversationId, Message> = ctx
        .store
        .messages_at(&keys)
        .await?
        .into_iter()
        .map(|m| (m.conversation_id.clone(), m))
        .collect();
    Ok(rows
        .into_iter()
        .map(|row| {
            let last_message = last_messages
                .remove(&row.id)
                .filter(|m| m.seq == row.last_seq);
            to_conversation(ctx, row, last_message)
        })
        .collect())
}

pub async fn get(
    ctx: &Ctx,
    user_id: &UserId,
    conversation_id: &ConversationId,
) -> AppResult<Conversation> {
    let row = ctx
        .store
        .conversation_for(user_id, conversation_id)
        .await?
        .ok_or(AppError::NotFound("conversation"))?;
    with_last_message(ctx, row).await
}

/// The conversation as `user_id` sees it, also when they just left it: what a
/// `conversation` event carries to each member and each added or removed user.
pub async fn view(
    ctx: &Ctx,
    user_id: &UserId,
    conversation_id: &ConversationId,
) -> AppResult<Conversation> {
    let row = ctx
        .store
        .conversation_view(user_id, conversation_id, true)
        .await?
        .ok_or(AppError::NotFound("conversation"))?;
    with_last_message(ctx, row).await
}

/// The conversation's members, if `user_id` is one of them: the one check
/// behind reading, sending, typing and read marks.
pub async fn membership(
    ctx: &Ctx,
    user_id: &UserId,
    conversation_id: &ConversationId,
) -> AppResult<Members> {
    match ctx.store.members(conversation_id).await? {
        Some(members) if members.includes(user_id) => Ok(members),
        _ => Err(AppError::NotFound("conversation")),
    }
}

/// Mutes or unmutes a conversation for the caller; their other tabs and
/// devices get the updated conversation.
pub async fn set_muted(
    ctx: &Ctx,
    user_id: &UserId,
    conversation_id: &ConversationId,
    muted: bool,
) -> AppResult<Conversation> {
    ctx.limits.check(Action::Profile, user_id)?;
    membership(ctx, user_id, conversation_id).await?;
    ctx.store.set_muted(conversation_id, user_id, muted).await?;
    let conversation = get(ctx, user_id, conversation_id).await?;
    ctx.notifier.conversation(user_id, &conversation).await;
    Ok(conversation)
}

/// Moves the caller's read mark forward (never back) and, when it moved, tells
/// the other member of a direct conversation. Lobby read marks are stored but
/// announced to no one: nobody else shows them, and everyone would get each.
pub async fn mark_read(
    ctx: &Ctx,
    caller: &AuthUser,
    conversation_id: &ConversationId,
    seq: Seq,
) -> AppResult<i64> {
    ctx.limits.check(Action::Read, &caller.id)?;
    let members = membership(ctx, &caller.id, conversation_id).await?;
    let last_seq = ctx.store.last_seq(conversation_id).await?;
    if seq.get() > last_seq {
        return Err(AppError::invalid(
            "invalid_seq",
            format!("seq must be at most {last_seq}"),
        ));
    }
    let (stored, moved) = ctx
        .store
        .mark_read(conversation_id, &caller.id, seq)
        .await?;
    if moved && !matches!(members, Members::Everyone) {
        ctx.notifier
            .read(&members, conversation_id, &caller.id, stored)
            .await;
    }
    Ok(stored)
}

/// Tells the other members the caller is typing: at most once per
/// `NATTER_TYPING_INTERVAL_MS` per conversation; one that comes too soon goes
/// out when the interval ends, and the rest are dropped.
pub async fn typing(
    ctx: &Ctx,
    caller: &AuthUser,
    conversation_id: &ConversationId,
) -> AppResult<()> {
    let members = membership(ctx, &caller.id, conversation_id).await?;
    match ctx.limits.typing(&caller.id, conversation_id) {
        Typing::Now => announce_typing(ctx, &members, conversation_id, &caller.id).await,
        Typing::Drop => Ok(()),
        Typing::After(wait) => {
            let (ctx, user, conversation) =
                (ctx.clone(), caller.id.clone(), conversation_id.clone());
            tokio::spawn(async move {
                tokio::time::sleep(wait).await;
                ctx.limits.typing_released(&user, &conversation);
                if let Err(e) = announce_typing(&ctx, &members, &conversation, &user).await {
                    tracing::debug!("held-back typing not announced: {e}");
                }
            });
            Ok(())
        }
    }
}

async fn announce_typing(
    ctx: &Ctx,
    members: &Members,
    conversation_id: &ConversationId,
    user_id: &UserId,
) -> AppResult<()> {
    let blockers = ctx.store.blockers_of(user_id).await?;
    ctx.notifier
        .typing(members, conversation_id, user_id, &blockers)
        .await;
    Ok(())
}

async fn with_last_message(ctx: &Ctx, row: ConversationRow) -> AppResult<Conversation> {
    let last_message = if row.last_seq > 0 {
        ctx.store.message(&row.id, row.last_seq).await?
    } else {
        None
    };
    Ok(to_conversation(ctx, row, last_message))
}

fn to_conversation(ctx: &Ctx, row: ConversationRow, last_message: Option<Message>) -> Conversation {
    let kind = match row.kind.as_str() {
        "direct" => ConversationKind::Direct,
        "group" => ConversationKind::Group,
        _ => ConversationKind::Lobby,
    };
    Conversation {
        peer: row.peer().map(|peer| public_user(ctx, peer)),
        last_message,
        unread_count: (row.last_seq - row.my_read).max(0),
        last_read_seq: row.my_read,
        peer_last_read_seq: if kind == ConversationKind::Direct {
            row.peer_read
        } else {
            0
        },
        muted: row.muted > 0,
        kind,
        title: row.title,
        owner_id: row.owner_id,
        member_count: row.member_count,
        rev: row.last_rev,
        created_at: row.created_at,
        last_activity_at: row.last_activity_at,
        id: row.id,
    }
}
