//! Group routes under `/api/conversations/{id}`: rename, members, add, remove
//! and leave.

use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::extract::{Auth, Json};
use crate::contract::bodies::{
    AddMembersRequest, ConversationAnswer, MembersAnswer, RenameRequest,
};
use crate::contract::events::ErrorBody;
use crate::domain::{ConversationId, UserId};
use crate::error::AppResult;
use crate::services::groups;
use crate::state::Ctx;

/// Renames a group; any member may. Recorded as a `title_changed` system message.
#[utoipa::path(patch, path = "/conversations/{id}", tag = "groups",
    params(("id" = String, Path, description = "a group's id")),
    request_body = RenameRequest,
    responses(
        (status = 200, body = ConversationAnswer),
        (status = 404, description = "`not_found`: not a member", body = ErrorBody),
        (status = 422, description = "`invalid_title`; `not_a_group` for direct conversations and the lobby", body = ErrorBody),
    ))]
pub async fn rename(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Path(id): Path<String>,
    Json(body): Json<RenameRequest>,
) -> AppResult<Json<ConversationAnswer>> {
    let id = ConversationId::parse(&id)?;
    let conversation = groups::rename(&ctx, &user, &id, &body.title).await?;
    Ok(Json(ConversationAnswer { conversation }))
}

/// The members with their read marks, longest-standing first.
#[utoipa::path(get, path = "/conversations/{id}/members", tag = "groups",
    params(("id" = String, Path, description = "a conversation id")),
    responses(
        (status = 200, body = MembersAnswer),
        (status = 404, description = "`not_found`: not a member", body = ErrorBody),
        (status = 422, description = "`not_a_group`: the lobby", body = ErrorBody),
    ))]
pub async fn members(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<MembersAnswer>> {
    let id = ConversationId::parse(&id)?;
    let members = groups::members(&ctx, &user, &id).await?;
    Ok(Json(MembersAnswer { members }))
}

/// Adds members; any member may, already-members are ignored.
#[utoipa::path(post, path = "/conversations/{id}/members", tag = "groups",
    params(("id" = String, Path, description = "a group's id")),
    request_body = AddMembersRequest,
    responses(
        (status = 200, body = ConversationAnswer),
        (status = 404, description = "`not_found`: not a member, or an unknown user", body = ErrorBody),
        (status = 422, description = "`invalid_members`, `too_many_members` (over 256), `not_a_group`", body = ErrorBody),
    ))]
pub async fn add(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Path(id): Path<String>,
    Json(body): Json<AddMembersRequest>,
) -> AppResult<Json<ConversationAnswer>> {
    let id = ConversationId::parse(&id)?;
    let conversation = groups::add(&ctx, &user, &id, &body.user_ids).await?;
    Ok(Json(ConversationAnswer { conversation }))
}

/// Leaves (yourself) or removes a member (the owner only). When the owner
/// leaves, the longest-standing member becomes owner.
#[utoipa::path(delete, path = "/conversations/{id}/members/{userId}", tag = "groups",
    params(
        ("id" = String, Path, description = "a group's id"),
        ("userId" = String, Path, description = "the member to remove, or yourself"),
    ),
    responses(
        (status = 204, description = "removed"),
        (status = 403, description = "`not_owner`: removing someone else", body = ErrorBody),
        (status = 404, description = "`not_found`: not a member (the caller or the user)", body = ErrorBody),
        (status = 422, description = "`not_a_group`", body = ErrorBody),
    ))]
pub async fn remove(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Path((id, user_id)): Path<(String, String)>,
) -> AppResult<StatusCode> {
    let id = ConversationId::parse(&id)?;
    let target = UserId::parse(&user_id)?;
    groups::remove(&ctx, &user, &id, &target).await?;
    Ok(StatusCode::NO_CONTENT)
}
