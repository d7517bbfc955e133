//! The caller's own profile: display name, status line and picture. Every change
//! is announced to connected users with a `user` event.

use super::{images, public_user, validate};
use crate::error::{AppError, AppResult};
use crate::ids::{new_id, now_ms};
use crate::model::User;
use crate::state::Ctx;
use crate::store::avatars::NewAvatar;
use crate::store::users::UserRow;

pub async fn me(ctx: &Ctx, user_id: &str) -> AppResult<User> {
    let row = ctx
        .store
        .user_by_id(user_id)
        .await?
        .ok_or(AppError::Unauthorized)?;
    Ok(public_user(ctx, row))
}

pub async fn update(
    ctx: &Ctx,
    user_id: &str,
    display_name: Option<&str>,
    status_message: Option<&str>,
) -> AppResult<User> {
    let display_name = display_name.map(validate::display_name).transpose()?;
    if let Some(status) = status_message {
        validate::status_message(status)?;
    }
    let row = ctx
        .store
        .update_profile(user_id, display_name.as_deref(), status_message)
        .await?;
    announce(ctx, row).await
}

/// Replaces the picture with a re-encoded copy of `upload`.
pub async fn set_avatar(ctx: &Ctx, user_id: &str, upload: Vec<u8>) -> AppResult<User> {
    if upload.len() > images::MAX_UPLOAD_BYTES {
        return Err(AppError::TooLarge(
            "the picture must be at most 5 MiB".into(),
        ));
    }
    let avatar = ctx.cpu.run(move || images::process(&upload)).await??;
    let row = ctx
        .store
        .replace_avatar(NewAvatar {
            id: &new_id(),
            user_id,
            content_type: images::CONTENT_TYPE,
            large: &avatar.large,
            small: &avatar.small,
            created_at: now_ms(),
        })
        .await?;
    announce(ctx, row).await
}

pub async fn remove_avatar(ctx: &Ctx, user_id: &str) -> AppResult<User> {
    let row = ctx.store.remove_avatar(user_id).await?;
    announce(ctx, row).await
}

async fn announce(ctx: &Ctx, row: UserRow) -> AppResult<User> {
    let user = public_user(ctx, row);
    ctx.notifier.user(&user).await;
    Ok(user)
}
