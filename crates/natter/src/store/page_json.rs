//! History pages on SQLite, built as JSON by SQLite itself: one statement,
//! one row, one text value for the whole page.
//!
//! Why: read as rows, a page of 50 messages is some 900 column values, each
//! copied by the driver into a value of its own, turned into a `String`, then
//! into a `Message` and written out again by serde; malloc and free were a
//! third of a page's CPU in a profile (docs/benchmarks.md, "What each
//! optimisation changed", item 9). SQLite's JSON functions write the same
//! objects straight from the table's pages. PostgreSQL and every other read of
//! messages keep the row path of [`super::messages`], whose `Message` is the
//! contract; the API tests compare the two, message by message
//! (`history_json::pages_show_every_message_as_announced`).

use std::sync::LazyLock;

use super::messages::PageQuery;
use super::page_readers::{PageBinds, PageReaders};
use crate::contract::bodies::HistoryPageJson;
use crate::domain::{ConversationId, Seq};

/// One message as the contract's `Message`, from `messages m` with the sender
/// `u` and the reply's original `o`, keys in the struct's order. Scalar
/// subqueries lose SQLite's JSON subtype, so their results go through
/// `json()` to be embedded as JSON rather than as strings. Reactions and
/// attachments are looked up only where `extras` says there may be some
/// (migration 0010): most messages have neither, and the two lookups per
/// message were some 15% of the statement.
const MESSAGE_JSON: &str = "json_object(\
     'id', m.id, 'conversationId', m.conversation_id, 'seq', m.seq, \
     'senderId', m.sender_id, 'user', u.username, 'msg', m.msg, 'clientId', m.client_id, \
     'createdAt', m.created_at, 'type', m.type, 'system', json(m.system), \
     'replyTo', CASE WHEN o.seq IS NULL THEN NULL ELSE json_object(\
         'seq', o.seq, 'senderId', o.sender_id, 'msg', SUBSTR(o.msg, 1, 200)) END, \
     'editedAt', m.edited_at, 'deletedAt', m.deleted_at, \
     'reactions', CASE WHEN m.extras != 0 AND EXISTS (SELECT 1 FROM reactions r \
             WHERE r.conversation_id = m.conversation_id AND r.seq = m.seq) \
         THEN json((SELECT json_group_array(json_object('emoji', emoji, 'userIds', json(users)) \
             ORDER BY first_rev) \
         FROM (SELECT r.emoji, json_group_array(r.user_id ORDER BY r.rev) AS users, \
                      MIN(r.rev) AS first_rev \
               FROM reactions r WHERE r.conversation_id = m.conversation_id AND r.seq = m.seq \
               GROUP BY r.emoji))) ELSE json_array() END, \
     'attachments', CASE WHEN m.extras != 0 AND EXISTS (SELECT 1 FROM attachments a \
             WHERE a.conversation_id = m.conversation_id AND a.seq = m.seq) \
         THEN json((SELECT json_group_array(json_object(\
             'id', a.id, 'name', a.name, 'contentType', a.content_type, 'size', a.size, \
             'width', a.width, 'height', a.height, 'url', '/api/attachments/' || a.id, \
             'thumbUrl', CASE WHEN a.has_thumb != 0 THEN '/api/attachments/' || a.id || '/thumb' END) \
             ORDER BY a.position) \
         FROM attachments a WHERE a.conversation_id = m.conversation_id AND a.seq = m.seq)) \
         ELSE json_array() END, \
     'rev', m.rev)";

/// A page as [`super::Store::messages_page`] answers it: the whole answer,
/// `{"messages":[…],"hasMore":…}`, with at most `limit` messages.
///
/// The page is the first `limit` messages in the direction of travel (newest
/// first for `before`), walking the index, their objects joined as text in
/// the page's order, ascending (by seq, or by rev for `sinceRev`): no JSON is
/// parsed again on the way. Whether there are more is one index probe past
/// the page's last message (an empty page has nothing beyond it); probing
/// with `LIMIT 1 OFFSET limit` walked the page's entries a second time.
///
/// The order of the joined objects is that of the sorted subquery SQLite
/// feeds `group_concat`; `group_concat(… ORDER BY page_order)` says so explicitly but
/// builds a temporary b-tree per page, 7–20% slower here. The API tests and
/// the load tool check every page's order, so an SQLite that stopped keeping
/// it would fail them.
pub(crate) async fn sqlite_page(
    readers: &PageReaders,
    conversation_id: &ConversationId,
    page: PageQuery,
) -> Result<HistoryPageJson, rusqlite::Error> {
    let (sql, low, high) = match page.since_rev {
        Some(rev) => (&*SINCE_REV, rev, i64::MAX),
        None if page.after.is_some() => (
            &*AFTER_SEQ,
            page.after.map_or(-1, Seq::get),
            page.before.map_or(i64::MAX, Seq::get),
        ),
        None => (&*BEFORE_SEQ, -1, page.before.map_or(i64::MAX, Seq::get)),
    };
    let binds = PageBinds {
        conversation_id: conversation_id.as_str(),
        low,
        high,
        limit: page.limit.get(),
    };
    let json = readers.text(sql, binds).await?;
    Ok(HistoryPageJson::written_by_store(json))
}

/// The page's statement for each way of reading: `sinceRev` (ascending by
/// rev), `after` (ascending by seq) and `before` or no cursor (descending by
/// seq). Built once; each reader connection keeps them prepared.
static SINCE_REV: LazyLock<String> = LazyLock::new(|| page_sql("rev", "ASC"));
static AFTER_SEQ: LazyLock<String> = LazyLock::new(|| page_sql("seq", "ASC"));
static BEFORE_SEQ: LazyLock<String> = LazyLock::new(|| page_sql("seq", "DESC"));

/// The statement that reads `?4` messages of conversation `?1` with `key`
/// strictly between `?2` and `?3`, walking `direction`, as the whole answer.
fn page_sql(key: &str, direction: &str) -> String {
    // Beyond the page: past its last message in the direction of travel,
    // still inside the cursors.
    let beyond = if direction == "DESC" {
        format!("x.{key} > ?2 AND x.{key} < page.first")
    } else {
        format!("x.{key} > page.last AND x.{key} < ?3")
    };
    format!(
        "SELECT '{{\"messages\":[' || page.objects || '],\"hasMore\":' || \
             CASE WHEN EXISTS (SELECT 1 FROM messages x \
                 WHERE x.conversation_id = ?1 AND {beyond}) THEN 'true}}' ELSE 'false}}' END \
         FROM (SELECT COALESCE(group_concat(j, ','), '') AS objects, \
                   MIN(page_order) AS first, MAX(page_order) AS last \
             FROM (SELECT j, page_order FROM (SELECT {MESSAGE_JSON} AS j, m.{key} AS page_order \
                 FROM messages m JOIN users u ON u.id = m.sender_id \
                 LEFT JOIN messages o ON o.conversation_id = m.conversation_id AND o.seq = m.reply_to \
                 WHERE m.conversation_id = ?1 AND m.{key} > ?2 AND m.{key} < ?3 \
                 ORDER BY m.{key} {direction} LIMIT ?4) ORDER BY page_order)) AS page"
    )
}
