//! Groups: creating one, renaming it, adding, removing and leaving, and the
//! member list. Each change goes through the writer as a system message; then
//! every member, and each user who joined or left, gets a `conversation` event
//! with the group as they now see it.

use super::conversations::{self, membership};
use super::public_user;
use super::sessions::AuthUser;
use crate::contract::{Conversation, Member};
use crate::domain::group::{GROUP_MAX_MEMBERS, member_ids};
use crate::domain::{ConversationId, GroupTitle, MessageId, UserId, now_ms};
use crate::error::{AppError, AppResult};
use crate::state::Ctx;
use crate::store::conversations::Members;
use crate::store::groups::{GroupChange, NewGroup};
use crate::store::writer::{Applied, Change};

/// Creates a group of the caller (its owner) and 1–255 others.
pub async fn create(
    ctx: &Ctx,
    owner: &AuthUser,
    title: &str,
    user_ids: &[String],
) -> AppResult<Conversation> {
    let title = GroupTitle::parse(title)?;
    let others = member_ids(user_ids, &owner.id, GROUP_MAX_MEMBERS - 1)?;
    if others.is_empty() {
        return Err(AppError::invalid(
            "invalid_members",
            "a group needs at least one other member",
        ));
    }
    known_users(ctx, &others).await?;
    let id = ConversationId::generate();
    let message = ctx
        .store
        .create_group(NewGroup {
            id: &id,
            message_id: &MessageId::generate(),
            owner: &owner.id,
            title: &title,
            others: &others,
            now: now_ms(),
        })
        .await?;
    let mut everyone = vec![owner.id.clone()];
    everyone.extend(others);
    tell(ctx, &id, &everyone, &[]).await?;
    ctx.notifier
        .new_message(&Members::group(everyone), message)
        .await;
    conversations::get(ctx, &owner.id, &id).await
}

pub async fn rename(
    ctx: &Ctx,
    actor: &AuthUser,
    conversation_id: &ConversationId,
    title: &str,
) -> AppResult<Conversation> {
    let title = GroupTitle::parse(title)?;
    let change = GroupChange::Rename {
        conversation_id: conversation_id.clone(),
        actor: actor.id.clone(),
        title,
    };
    apply(ctx, actor, change).await?;
    conversations::get(ctx, &actor.id, conversation_id).await
}

/// Adds users; those already in the group are ignored.
pub async fn add(
    ctx: &Ctx,
    actor: &AuthUser,
    conversation_id: &ConversationId,
    user_ids: &[String],
) -> AppResult<Conversation> {
    // A non-member learns nothing, not even which of the ids exist.
    membership(ctx, &actor.id, conversation_id).await?;
    let user_ids = member_ids(user_ids, &actor.id, GROUP_MAX_MEMBERS)?;
    if user_ids.is_empty() {
        return Err(AppError::invalid(
            "invalid_members",
            "name at least one user to add",
        ));
    }
    known_users(ctx, &user_ids).await?;
    let change = GroupChange::Add {
        conversation_id: conversation_id.clone(),
        actor: actor.id.clone(),
        user_ids,
    };
    apply(ctx, actor, change).await?;
    conversations::get(ctx, &actor.id, conversation_id).await
}

/// Removes `target` (the owner's right) or, when it is the caller, leaves.
pub async fn remove(
    ctx: &Ctx,
    actor: &AuthUser,
    conversation_id: &ConversationId,
    target: &UserId,
) -> AppResult<()> {
    let change = GroupChange::Remove {
        conversation_id: conversation_id.clone(),
        actor: actor.id.clone(),
        target: target.clone(),
    };
    apply(ctx, actor, change).await
}

pub async fn members(
    ctx: &Ctx,
    caller: &AuthUser,
    conversation_id: &ConversationId,
) -> AppResult<Vec<Member>> {
    match membership(ctx, &caller.id, conversation_id).await? {
        Members::Everyone => Err(AppError::invalid(
            "not_a_group",
            "the lobby has no member list: everyone is in it",
        )),
        _ => Ok(ctx
            .store
            .member_list(conversation_id)
            .await?
            .into_iter()
            .map(|row| Member {
                user: public_user(ctx, row.user()),
                last_read_seq: row.last_read_seq,
                joined_at: row.joined_at,
            })
            .collect()),
    }
}

async fn apply(ctx: &Ctx, actor: &AuthUser, change: GroupChange) -> AppResult<()> {
    let conversation_id = change.conversation_id().clone();
    membership(ctx, &actor.id, &conversation_id).await?;
    let applied = ctx.writer.apply(Change::Group(change)).await??;
    if let Applied::Group {
        message: Some(_),
        left,
        ..
    } = applied
        && let Some(Members::Group(ids)) = ctx.store.members(&conversation_id).await?
    {
        tell(ctx, &conversation_id, &ids, &left).await?;
    }
    Ok(())
}

/// Sends each member, and each user who just left, the group as they see it.
async fn tell(
    ctx: &Ctx,
    conversation_id: &ConversationId,
    members: &[UserId],
    left: &[UserId],
) -> AppResult<()> {
    for user_id in members.iter().chain(left) {
        let view = conversations::view(ctx, user_id, conversation_id).await?;
        ctx.notifier.conversation(user_id, &view).await;
    }
    Ok(())
}

/// 404 `not_found` unless every id is a user.
async fn known_users(ctx: &Ctx, ids: &[UserId]) -> AppResult<()> {
    if ctx.store.count_users(ids).await? == ids.len() {
        Ok(())
    } else {
        Err(AppError::NotFound("user"))
    }
}
