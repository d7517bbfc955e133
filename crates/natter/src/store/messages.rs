//! Message history: keyset pages on `(conversation_id, seq)`, never OFFSET.

use super::Store;
use crate::error::AppResult;
use crate::model::Message;

pub(crate) const MESSAGE_COLUMNS: &str = "m.id, m.conversation_id, m.seq, m.sender_id, \
     u.username AS \"user\", m.msg, m.client_id, m.created_at";

/// Which slice of a conversation to read. `before` and `after` are exclusive seqs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageQuery {
    pub before: Option<i64>,
    pub after: Option<i64>,
    pub limit: i64,
}

impl Store {
    /// A page of messages in ascending seq, and whether more lie beyond it in the
    /// direction of travel (older for `before` or no cursor, newer for `after`).
    pub async fn messages_page(
        &self,
        conversation_id: &str,
        page: PageQuery,
    ) -> AppResult<(Vec<Message>, bool)> {
        let fetch = page.limit + 1;
        let upper = page.before.unwrap_or(i64::MAX);
        let mut messages: Vec<Message> = if let Some(after) = page.after {
            let sql = format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.sender_id \
                 WHERE m.conversation_id = $1 AND m.seq > $2 AND m.seq < $3 ORDER BY m.seq ASC LIMIT $4"
            );
            sqlx::query_as(&sql)
                .bind(conversation_id)
                .bind(after)
                .bind(upper)
                .bind(fetch)
                .fetch_all(self.reader())
                .await?
        } else {
            let sql = format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.sender_id \
                 WHERE m.conversation_id = $1 AND m.seq < $2 ORDER BY m.seq DESC LIMIT $3"
            );
            let mut newest_first: Vec<Message> = sqlx::query_as(&sql)
                .bind(conversation_id)
                .bind(upper)
                .bind(fetch)
                .fetch_all(self.reader())
                .await?;
            newest_first.reverse();
            newest_first
        };
        let has_more = messages.len() as i64 > page.limit;
        if has_more {
            if page.after.is_some() {
                messages.pop();
            } else {
                messages.remove(0);
            }
        }
        Ok((messages, has_more))
    }
}
