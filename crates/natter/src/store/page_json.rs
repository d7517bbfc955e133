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

use serde_json::value::RawValue;
use sqlx::SqliteConnection;

use super::messages::PageQuery;
use crate::domain::{ConversationId, Seq};

/// One message as the contract's `Message`, from `messages m` with the sender
/// `u` and the reply's original `o`, keys in the struct's order. Scalar
/// subqueries lose SQLite's JSON subtype, so their results go through
/// `json()` to be embedded as JSON rather than as strings.
const MESSAGE_JSON: &str = "json_object(\
     'id', m.id, 'conversationId', m.conversation_id, 'seq', m.seq, \
     'senderId', m.sender_id, 'user', u.username, 'msg', m.msg, 'clientId', m.client_id, \
     'createdAt', m.created_at, 'type', m.type, 'system', json(m.system), \
     'replyTo', CASE WHEN o.seq IS NULL THEN NULL ELSE json_object(\
         'seq', o.seq, 'senderId', o.sender_id, 'msg', SUBSTR(o.msg, 1, 200)) END, \
     'editedAt', m.edited_at, 'deletedAt', m.deleted_at, \
     'reactions', CASE WHEN EXISTS (SELECT 1 FROM reactions r \
             WHERE r.conversation_id = m.conversation_id AND r.seq = m.seq) \
         THEN json((SELECT json_group_array(json_object('emoji', emoji, 'userIds', json(users)) \
             ORDER BY first_rev) \
         FROM (SELECT r.emoji, json_group_array(r.user_id ORDER BY r.rev) AS users, \
                      MIN(r.rev) AS first_rev \
               FROM reactions r WHERE r.conversation_id = m.conversation_id AND r.seq = m.seq \
               GROUP BY r.emoji))) ELSE json_array() END, \
     'attachments', CASE WHEN EXISTS (SELECT 1 FROM attachments a \
             WHERE a.conversation_id = m.conversation_id AND a.seq = m.seq) \
         THEN json((SELECT json_group_array(json_object(\
             'id', a.id, 'name', a.name, 'contentType', a.content_type, 'size', a.size, \
             'width', a.width, 'height', a.height, 'url', '/api/attachments/' || a.id, \
             'thumbUrl', CASE WHEN a.has_thumb != 0 THEN '/api/attachments/' || a.id || '/thumb' END) \
             ORDER BY a.position) \
         FROM attachments a WHERE a.conversation_id = m.conversation_id AND a.seq = m.seq)) \
         ELSE json_array() END, \
     'rev', m.rev)";

/// A page as [`super::Store::messages_page`] answers it: the messages (at
/// most `limit`) as a JSON array, and whether more lie beyond.
///
/// The page is the first `limit` messages in the direction of travel (newest
/// first for `before`), walking the index, their objects joined as text in
/// the page's order, ascending (by seq, or by rev for `sinceRev`): no JSON is
/// parsed again on the way. Whether there are more is one step further along
/// the same index, which holds the key.
///
/// The order of the joined objects is that of the sorted subquery SQLite
/// feeds `group_concat`; `group_concat(… ORDER BY page_order)` says so explicitly but
/// builds a temporary b-tree per page, 7–20% slower here. The API tests and
/// the load tool check every page's order, so an SQLite that stopped keeping
/// it would fail them.
pub(crate) async fn sqlite_page(
    conn: &mut SqliteConnection,
    conversation_id: &ConversationId,
    page: PageQuery,
) -> Result<(Box<RawValue>, bool), sqlx::Error> {
    let (key, direction, low, high) = match page.since_rev {
        Some(rev) => ("rev", "ASC", rev, i64::MAX),
        None if page.after.is_some() => (
            "seq",
            "ASC",
            page.after.map_or(-1, Seq::get),
            page.before.map_or(i64::MAX, Seq::get),
        ),
        None => ("seq", "DESC", -1, page.before.map_or(i64::MAX, Seq::get)),
    };
    let sql = format!(
        "SELECT '[' || COALESCE(group_concat(j, ','), '') || ']', \
             EXISTS (SELECT 1 FROM messages x \
                 WHERE x.conversation_id = ?1 AND x.{key} > ?2 AND x.{key} < ?3 \
                 ORDER BY x.{key} {direction} LIMIT 1 OFFSET ?4) \
         FROM (SELECT j FROM (SELECT {MESSAGE_JSON} AS j, m.{key} AS page_order \
             FROM messages m JOIN users u ON u.id = m.sender_id \
             LEFT JOIN messages o ON o.conversation_id = m.conversation_id AND o.seq = m.reply_to \
             WHERE m.conversation_id = ?1 AND m.{key} > ?2 AND m.{key} < ?3 \
             ORDER BY m.{key} {direction} LIMIT ?4) ORDER BY page_order)"
    );
    let limit = page.limit.get();
    let (json, has_more): (String, bool) = sqlx::query_as(&sql)
        .bind(conversation_id.as_str())
        .bind(low)
        .bind(high)
        .bind(limit)
        .fetch_one(conn)
        .await?;
    let json = RawValue::from_string(json).map_err(|e| sqlx::Error::Decode(e.into()))?;
    Ok((json, has_more))
}
