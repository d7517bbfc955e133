//! `/api/me/blocks`: the caller's block list (contract v2 "Blocking").

use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::extract::{Auth, Json};
use crate::contract::bodies::BlockedUsers;
use crate::contract::events::ErrorBody;
use crate::domain::UserId;
use crate::error::AppResult;
use crate::services::blocks;
use crate::state::Ctx;

/// The users the caller blocks, the latest first.
#[utoipa::path(get, path = "/me/blocks", tag = "blocking",
    responses((status = 200, body = BlockedUsers)))]
pub async fn list(State(ctx): State<Ctx>, Auth(user): Auth) -> AppResult<Json<BlockedUsers>> {
    let users = blocks::list(&ctx, &user).await?;
    Ok(Json(BlockedUsers { users }))
}

/// Blocks a user: neither can start or use a direct chat with the other, and
/// the caller gets none of the user's typing. Blocking twice is not an error.
#[utoipa::path(put, path = "/me/blocks/{userId}", tag = "blocking",
    params(("userId" = String, Path, description = "the user to block")),
    responses(
        (status = 204, description = "blocked"),
        (status = 404, description = "`not_found`: no such user", body = ErrorBody),
        (status = 422, description = "`cannot_block_self`", body = ErrorBody),
    ))]
pub async fn block(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Path(target): Path<String>,
) -> AppResult<StatusCode> {
    blocks::block(&ctx, &user, &UserId::parse(&target)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lifts a block; unblocking someone not blocked is not an error.
#[utoipa::path(delete, path = "/me/blocks/{userId}", tag = "blocking",
    params(("userId" = String, Path, description = "the user to unblock")),
    responses(
        (status = 204, description = "unblocked"),
        (status = 404, description = "`not_found`: no such user", body = ErrorBody),
    ))]
pub async fn unblock(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Path(target): Path<String>,
) -> AppResult<StatusCode> {
    blocks::unblock(&ctx, &user, &UserId::parse(&target)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
