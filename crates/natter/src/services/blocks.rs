//! Blocking (contract v2 "Blocking"): the caller's block list, and the checks
//! that enforce it wherever two users meet. A block works both ways for a
//! direct chat (neither starts one nor sends into it, so the blocker never has
//! to read a reply it cannot answer) and one way for typing (the blocker stops
//! seeing the other's). Group and lobby messages still arrive: clients collapse
//! them. Every check reads the shared database, so it holds on every node.

use super::public_user;
use super::rate_limits::Action;
use super::sessions::AuthUser;
use crate::contract::User;
use crate::domain::{UserId, now_ms};
use crate::error::{AppError, AppResult};
use crate::state::Ctx;

pub async fn block(ctx: &Ctx, caller: &AuthUser, target: &UserId) -> AppResult<()> {
    ctx.limits.check(Action::Profile, &caller.id)?;
    if *target == caller.id {
        return Err(AppError::invalid(
            "cannot_block_self",
            "you cannot block yourself",
        ));
    }
    if ctx.store.user_by_id(target).await?.is_none() {
        return Err(AppError::NotFound("user"));
    }
    ctx.store.block(&caller.id, target, now_ms()).await?;
    Ok(())
}

pub async fn unblock(ctx: &Ctx, caller: &AuthUser, target: &UserId) -> AppResult<()> {
    ctx.limits.check(Action::Profile, &caller.id)?;
    if ctx.store.user_by_id(target).await?.is_none() {
        return Err(AppError::NotFound("user"));
    }
    ctx.store.unblock(&caller.id, target).await?;
    Ok(())
}

/// The users the caller blocks, the latest first.
pub async fn list(ctx: &Ctx, caller: &AuthUser) -> AppResult<Vec<User>> {
    let rows = ctx.store.blocked_by(&caller.id).await?;
    Ok(rows.into_iter().map(|row| public_user(ctx, row)).collect())
}

/// Refuses with `blocked` when either user blocks the other.
pub async fn ensure_not_blocked(ctx: &Ctx, a: &UserId, b: &UserId) -> AppResult<()> {
    if ctx.store.blocked_between(a, b).await? {
        return Err(AppError::Blocked);
    }
    Ok(())
}
