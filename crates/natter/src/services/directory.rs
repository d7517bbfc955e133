//! The user directory: everyone but the caller, searchable, in username order.

use super::public_user;
use crate::contract::User;
use crate::contract::bodies::UsersPage;
use crate::domain::{PageLimit, SearchQuery, UserId, Username};
use crate::error::{AppError, AppResult};
use crate::state::Ctx;
use crate::store::users::DirectoryQuery;

pub async fn list(
    ctx: &Ctx,
    caller_id: &UserId,
    search: &SearchQuery,
    limit: PageLimit,
    cursor: Option<&str>,
) -> AppResult<UsersPage> {
    let limit = limit.get();
    // A cursor is the last username of the previous page.
    let cursor = cursor
        .map(|c| {
            Username::parse(c)
                .map_err(|_| AppError::invalid("invalid_cursor", "cursor is not one we gave"))
        })
        .transpose()?;
    let rows = ctx
        .store
        .directory(DirectoryQuery {
            exclude_id: caller_id,
            search: search.as_str(),
            after_username: cursor.as_ref().map_or("", Username::as_str),
            limit: limit + 1,
        })
        .await?;
    let has_more = rows.len() as i64 > limit;
    let mut users: Vec<User> = rows.into_iter().map(|row| public_user(ctx, row)).collect();
    if has_more {
        users.pop();
    }
    let next_cursor = if has_more {
        users.last().map(|u| u.username.clone())
    } else {
        None
    };
    Ok(UsersPage { users, next_cursor })
}

pub async fn get(ctx: &Ctx, user_id: &UserId) -> AppResult<User> {
    let row = ctx
        .store
        .user_by_id(user_id)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    Ok(public_user(ctx, row))
}
