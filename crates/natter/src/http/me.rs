//! `/api/me`: the caller's own profile, picture and password.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode, header};

use super::extract::{Auth, ClientAddr, Json};
use crate::contract::bodies::{AvatarUpload, PasswordChange, ProfilePatch, UserAnswer};
use crate::contract::events::ErrorBody;
use crate::domain::{DisplayName, Password, StatusMessage};
use crate::error::{AppError, AppResult};
use crate::services::attachments::multipart_error;
use crate::services::{accounts, images, profiles};
use crate::state::Ctx;

/// The caller's own profile.
#[utoipa::path(get, path = "/me", tag = "profile",
    responses(
        (status = 200, body = UserAnswer),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
    ))]
pub async fn get(State(ctx): State<Ctx>, Auth(user): Auth) -> AppResult<Json<UserAnswer>> {
    let user = profiles::me(&ctx, &user.id).await?;
    Ok(Json(UserAnswer { user }))
}

/// Changes the display name and/or status line; announced with a `user` event.
#[utoipa::path(patch, path = "/me", tag = "profile",
    request_body = ProfilePatch,
    responses(
        (status = 200, body = UserAnswer),
        (status = 422, description = "`invalid_display_name`, `invalid_status_message`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many profile changes, with `Retry-After`", body = ErrorBody),
    ))]
pub async fn patch(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Json(patch): Json<ProfilePatch>,
) -> AppResult<Json<UserAnswer>> {
    let display_name = patch
        .display_name
        .as_deref()
        .map(DisplayName::parse)
        .transpose()?;
    let status_message = patch
        .status_message
        .as_deref()
        .map(StatusMessage::parse)
        .transpose()?;
    let user = profiles::update(&ctx, &user.id, display_name, status_message).await?;
    Ok(Json(UserAnswer { user }))
}

/// Changes the password and ends every other session of the user.
#[utoipa::path(post, path = "/me/password", tag = "profile",
    request_body = PasswordChange,
    responses(
        (status = 204, description = "changed; other sessions ended"),
        (status = 403, description = "`forbidden`: the current password is wrong", body = ErrorBody),
        (status = 422, description = "`invalid_password`", body = ErrorBody),
        (status = 429, description = "`rate_limited` (profile changes) or `too_many_requests` (wrong current passwords of this account or from this address), with `Retry-After`", body = ErrorBody),
    ))]
pub async fn change_password(
    State(ctx): State<Ctx>,
    ClientAddr(client): ClientAddr,
    Auth(user): Auth,
    Json(body): Json<PasswordChange>,
) -> AppResult<StatusCode> {
    let new = Password::parse(body.new_password)?;
    let current = Password::presented(body.current_password)
        .map_err(|_| AppError::Forbidden("current password is wrong"))?;
    accounts::change_password(&ctx, client, &user, current, new).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Multipart overhead allowed on top of the picture itself.
const MULTIPART_SLACK: usize = 64 * 1024;
pub const AVATAR_BODY_LIMIT: usize = images::MAX_UPLOAD_BYTES + MULTIPART_SLACK;

/// Replaces the picture: cropped square, re-encoded as WebP at 256 and 64 px.
#[utoipa::path(put, path = "/me/avatar", tag = "profile",
    request_body(content = AvatarUpload, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "the user with a new `avatarUrl`", body = UserAnswer),
        (status = 413, description = "`payload_too_large`: over 5 MiB", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not PNG, JPEG, WebP or GIF", body = ErrorBody),
        (status = 422, description = "`invalid_image`, `image_too_large`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many profile changes, with `Retry-After`", body = ErrorBody),
    ))]
pub async fn put_avatar(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Json<UserAnswer>> {
    let mut multipart = multipart.map_err(|_| {
        AppError::UnsupportedMedia("send the picture as multipart/form-data, field 'avatar'".into())
    })?;
    // Refuse a declared oversize body before reading any of it.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > AVATAR_BODY_LIMIT) {
        return Err(images::too_large());
    }
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(multipart_error(images::too_large))?
    {
        if field.name() != Some("avatar") {
            continue;
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field
            .chunk()
            .await
            .map_err(multipart_error(images::too_large))?
        {
            if bytes.len() + chunk.len() > images::MAX_UPLOAD_BYTES {
                return Err(images::too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        let user = profiles::set_avatar(&ctx, &user.id, bytes).await?;
        return Ok(Json(UserAnswer { user }));
    }
    Err(AppError::bad_request(
        "missing_avatar",
        "send the picture in the multipart field 'avatar'",
    ))
}

/// Removes the picture.
#[utoipa::path(delete, path = "/me/avatar", tag = "profile",
    responses(
        (status = 200, description = "the user with `avatarUrl: null`", body = UserAnswer),
        (status = 429, description = "`rate_limited`: too many profile changes, with `Retry-After`", body = ErrorBody),
    ))]
pub async fn delete_avatar(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
) -> AppResult<Json<UserAnswer>> {
    let user = profiles::remove_avatar(&ctx, &user.id).await?;
    Ok(Json(UserAnswer { user }))
}
