//! `/api/users`: the directory, and one user's profile.

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{Auth, Json, Query};
use crate::error::AppResult;
use crate::services::directory;
use crate::state::Ctx;

#[derive(Deserialize)]
pub struct DirectoryParams {
    q: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

pub async fn list(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Query(params): Query<DirectoryParams>,
) -> AppResult<Json<Value>> {
    let page = directory::list(
        &ctx,
        &user.id,
        params.q.as_deref(),
        params.limit,
        params.cursor.as_deref(),
    )
    .await?;
    Ok(Json(
        json!({ "users": page.users, "nextCursor": page.next_cursor }),
    ))
}

pub async fn get(
    State(ctx): State<Ctx>,
    Auth(_): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(json!({ "user": directory::get(&ctx, &id).await? })))
}
