//! `/api/users`: the directory, and one user's profile.

use axum::extract::{Path, State};

use super::extract::{Auth, Json, Query};
use crate::contract::bodies::{DirectoryParams, UserAnswer, UsersPage};
use crate::contract::events::ErrorBody;
use crate::domain::{PageLimit, SearchQuery, UserId};
use crate::error::AppResult;
use crate::services::directory;
use crate::state::Ctx;

/// Everyone but the caller, in username order, with live presence.
#[utoipa::path(get, path = "/users", tag = "directory",
    params(DirectoryParams),
    responses(
        (status = 200, body = UsersPage),
        (status = 422, description = "`invalid_query`, `invalid_limit`, `invalid_cursor`", body = ErrorBody),
    ))]
pub async fn list(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Query(params): Query<DirectoryParams>,
) -> AppResult<Json<UsersPage>> {
    let search = SearchQuery::parse(params.q.as_deref())?;
    let limit = PageLimit::parse(params.limit)?;
    let page = directory::list(&ctx, &user.id, &search, limit, params.cursor.as_deref()).await?;
    Ok(Json(page))
}

/// One user's public profile.
#[utoipa::path(get, path = "/users/{id}", tag = "directory",
    params(("id" = String, Path, description = "a user id")),
    responses(
        (status = 200, body = UserAnswer),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
pub async fn get(
    State(ctx): State<Ctx>,
    Auth(_caller): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<UserAnswer>> {
    let user = directory::get(&ctx, &UserId::parse(&id)?).await?;
    Ok(Json(UserAnswer { user }))
}
