//! The caller's own profile: display name, status line and picture. Every change
//! is announced to connected users with a `user` event, and takes a token from
//! the user's profile bucket ([`super::rate_limits`]).

use super::rate_limits::Action;
use super::{images, public_user};
use crate::contract::User;
use crate::domain::{AvatarId, DisplayName, StatusMessage, UserId, now_ms};
use crate::error::{AppError, AppResult};
use crate::state::Ctx;
use crate::store::avatars::NewAvatar;
use crate::store::users::UserRow;

pub async fn me(ctx: &Ctx, user_id: &UserId) -> AppResult<User> {
    let row = ctx
        .store
        .user_by_id(user_id)
        .await?
        .ok_or(AppError::Unauthorized)?;
    Ok(public_user(ctx, row))
}

pub async fn update(
    ctx: &Ctx,
    user_id: &UserId,
    display_name: Option<DisplayName>,
    status_message: Option<StatusMessage>,
) -> AppResult<User> {
    ctx.limits.check(Action::Profile, user_id)?;
    let row = ctx
        .store
        .update_profile(user_id, display_name.as_ref(), status_message.as_ref())
        .await?;
    announce(ctx, row).await
}

/// Replaces the picture with a re-encoded copy of `upload`.
pub async fn set_avatar(ctx: &Ctx, user_id: &UserId, upload: Vec<u8>) -> AppResult<User> {
    ctx.limits.check(Action::Profile, user_id)?;
    if upload.len() > images::MAX_UPLOAD_BYTES {
        return Err(images::too_large());
    }
    let avatar = ctx.cpu.run(move || images::process(&upload)).await??;
    let row = ctx
        .store
        .replace_avatar(NewAvatar {
            id: &AvatarId::generate(),
            user_id,
            content_type: images::CONTENT_TYPE,
            large: &avatar.large,
            small: &avatar.small,
            created_at: now_ms(),
        })
        .await?;
    announce(ctx, row).await
}

pub async fn remove_avatar(ctx: &Ctx, user_id: &UserId) -> AppResult<User> {
    ctx.limits.check(Action::Profile, user_id)?;
    let row = ctx.store.remove_avatar(user_id).await?;
    announce(ctx, row).await
}

/// Tells everyone of the changed profile; a user deleted meanwhile is 401.
async fn announce(ctx: &Ctx, row: Option<UserRow>) -> AppResult<User> {
    let user = public_user(ctx, row.ok_or(AppError::Unauthorized)?);
    ctx.notifier.user(&user).await;
    Ok(user)
}
