//! `GET /api/search`: message search in the caller's conversations.

use axum::extract::State;

use super::extract::{Auth, Json, Query};
use crate::contract::bodies::{SearchPage, SearchParams};
use crate::contract::events::ErrorBody;
use crate::domain::{ConversationId, MessageQuery, PageLimit};
use crate::error::AppResult;
use crate::services::search::{self, SEARCH_DEFAULT, SEARCH_MAX};
use crate::state::Ctx;

/// Messages containing `q` (case-insensitive), newest first.
#[utoipa::path(get, path = "/search", tag = "messages",
    params(SearchParams),
    responses(
        (status = 200, body = SearchPage),
        (status = 404, description = "`not_found`: `conversationId` is not one of the caller's", body = ErrorBody),
        (status = 422, description = "`invalid_search_query`, `invalid_limit`, `invalid_cursor`", body = ErrorBody),
    ))]
pub async fn messages(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Query(params): Query<SearchParams>,
) -> AppResult<Json<SearchPage>> {
    let query = MessageQuery::parse(params.q.as_deref())?;
    let limit = PageLimit::within(params.limit, SEARCH_DEFAULT, SEARCH_MAX)?;
    let conversation_id = params
        .conversation_id
        .as_deref()
        .map(ConversationId::parse)
        .transpose()?;
    let page = search::messages(
        &ctx,
        &user.id,
        &query,
        conversation_id.as_ref(),
        limit,
        params.cursor.as_deref(),
    )
    .await?;
    Ok(Json(page))
}
