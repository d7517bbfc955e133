//! Message search: the caller's current conversations (or one of them), newest
//! first, paged by an opaque cursor: the last result's search key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::conversations::membership;
use crate::contract::bodies::SearchPage;
use crate::domain::{ConversationId, MessageQuery, PageLimit, UserId};
use crate::error::{AppError, AppResult};
use crate::state::Ctx;
use crate::store::search::MessageSearch;

pub const SEARCH_DEFAULT: i64 = 20;
pub const SEARCH_MAX: i64 = 50;

pub async fn messages(
    ctx: &Ctx,
    caller_id: &UserId,
    query: &MessageQuery,
    conversation_id: Option<&ConversationId>,
    limit: PageLimit,
    cursor: Option<&str>,
) -> AppResult<SearchPage> {
    if let Some(id) = conversation_id {
        membership(ctx, caller_id, id).await?;
    }
    let before = cursor.map(decode_cursor).transpose()?.unwrap_or(i64::MAX);
    let limit = limit.get();
    let mut hits = ctx
        .store
        .search_messages(&MessageSearch {
            user_id: caller_id,
            text: query.as_str(),
            conversation_id,
            before,
            limit: limit + 1,
        })
        .await?;
    // One more than asked says whether a next page exists; a hit dropped as
    // deleted meanwhile only ends this page early.
    let has_more = hits.len() as i64 > limit;
    hits.truncate(limit as usize);
    let next_cursor = if has_more {
        hits.last().map(|(_, key)| encode_cursor(*key))
    } else {
        None
    };
    Ok(SearchPage {
        messages: hits.into_iter().map(|(message, _)| message).collect(),
        next_cursor,
    })
}

/// The last result's search key; opaque, so its meaning may change.
fn encode_cursor(key: i64) -> String {
    URL_SAFE_NO_PAD.encode(key.to_string())
}

fn decode_cursor(cursor: &str) -> AppResult<i64> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|raw| raw.parse().ok())
        .ok_or_else(|| AppError::invalid("invalid_cursor", "cursor is not one we gave"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        assert_eq!(decode_cursor(&encode_cursor(1_234_567)).unwrap(), 1_234_567);
        assert!(decode_cursor("!!").is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("1x")).is_err());
    }
}
