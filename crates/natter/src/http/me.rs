//! `/api/me`: the caller's own profile, picture and password.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{Auth, Json};
use crate::error::{AppError, AppResult};
use crate::services::{accounts, images, profiles};
use crate::state::Ctx;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfilePatch {
    display_name: Option<String>,
    status_message: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

pub async fn get(State(ctx): State<Ctx>, Auth(user): Auth) -> AppResult<Json<Value>> {
    Ok(Json(json!({ "user": profiles::me(&ctx, &user.id).await? })))
}

pub async fn patch(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Json(patch): Json<ProfilePatch>,
) -> AppResult<Json<Value>> {
    let updated = profiles::update(
        &ctx,
        &user.id,
        patch.display_name.as_deref(),
        patch.status_message.as_deref(),
    )
    .await?;
    Ok(Json(json!({ "user": updated })))
}

pub async fn change_password(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Json(body): Json<PasswordChange>,
) -> AppResult<StatusCode> {
    accounts::change_password(&ctx, &user, body.current_password, body.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Multipart overhead allowed on top of the picture itself.
const MULTIPART_SLACK: usize = 64 * 1024;
pub const AVATAR_BODY_LIMIT: usize = images::MAX_UPLOAD_BYTES + MULTIPART_SLACK;

pub async fn put_avatar(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Json<Value>> {
    let mut multipart = multipart.map_err(|_| {
        AppError::UnsupportedMedia("send the picture as multipart/form-data, field 'avatar'".into())
    })?;
    // Refuse a declared oversize body before reading any of it.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > AVATAR_BODY_LIMIT) {
        return Err(too_large());
    }
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        if field.name() != Some("avatar") {
            continue;
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            if bytes.len() + chunk.len() > images::MAX_UPLOAD_BYTES {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        let updated = profiles::set_avatar(&ctx, &user.id, bytes).await?;
        return Ok(Json(json!({ "user": updated })));
    }
    Err(AppError::bad_request(
        "missing_avatar",
        "send the picture in the multipart field 'avatar'",
    ))
}

pub async fn delete_avatar(State(ctx): State<Ctx>, Auth(user): Auth) -> AppResult<Json<Value>> {
    Ok(Json(
        json!({ "user": profiles::remove_avatar(&ctx, &user.id).await? }),
    ))
}

fn too_large() -> AppError {
    AppError::TooLarge("the picture must be at most 5 MiB".into())
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        AppError::bad_request("invalid_multipart", e.body_text())
    }
}
