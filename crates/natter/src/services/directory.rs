//! The user directory: everyone but the caller, searchable, in username order.

use super::{public_user, validate};
use crate::error::{AppError, AppResult};
use crate::model::User;
use crate::state::Ctx;
use crate::store::users::DirectoryQuery;

pub struct DirectoryPage {
    pub users: Vec<User>,
    /// Opaque; pass back as `cursor` for the next page.
    pub next_cursor: Option<String>,
}

pub async fn list(
    ctx: &Ctx,
    caller_id: &str,
    search: Option<&str>,
    limit: Option<i64>,
    cursor: Option<&str>,
) -> AppResult<DirectoryPage> {
    let limit = validate::page_limit(limit)?;
    let search = search.unwrap_or("").trim();
    if search.chars().count() > 64 {
        return Err(AppError::invalid(
            "invalid_query",
            "q must be at most 64 characters",
        ));
    }
    let rows = ctx
        .store
        .directory(DirectoryQuery {
            exclude_id: caller_id,
            search,
            after_username: cursor.unwrap_or(""),
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
    Ok(DirectoryPage { users, next_cursor })
}

pub async fn get(ctx: &Ctx, user_id: &str) -> AppResult<User> {
    let row = ctx
        .store
        .user_by_id(user_id)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    Ok(public_user(ctx, row))
}
