//! `GET /api/avatars/{id}`: stored pictures. The id changes with every upload, so
//! an answer can be cached forever; `?size=64` gives the small variant.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::extract::Query;
use crate::contract::bodies::AvatarParams;
use crate::contract::events::ErrorBody;
use crate::domain::AvatarId;
use crate::error::{AppError, AppResult};
use crate::services::images::SMALL_SIDE;
use crate::state::Ctx;

/// A stored picture (WebP); public, like the profiles that link to it.
#[utoipa::path(get, path = "/avatars/{id}", tag = "profile",
    params(("id" = String, Path, description = "the id in an `avatarUrl`"), AvatarParams),
    responses(
        (status = 200, description = "the picture", content_type = "image/webp", body = Vec<u8>),
        (status = 304, description = "the client's copy (`If-None-Match`) is current"),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
pub async fn get(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    Query(params): Query<AvatarParams>,
    request_headers: HeaderMap,
) -> AppResult<Response> {
    let id = AvatarId::parse(&id)?;
    let small = params.size.is_some_and(|s| s <= SMALL_SIDE);
    let (content_type, bytes) = ctx
        .store
        .avatar_image(&id, small)
        .await?
        .ok_or(AppError::NotFound("picture"))?;
    let etag = format!("\"{id}-{}\"", if small { "s" } else { "l" });
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    let not_modified = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    if not_modified {
        return Ok((StatusCode::NOT_MODIFIED, headers).into_response());
    }
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    Ok((headers, bytes).into_response())
}
