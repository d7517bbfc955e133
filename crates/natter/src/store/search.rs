//! Message search over the caller's current conversations, newest first, by
//! keyset.
//!
//! SQLite: the FTS5 trigram index (migration 0007) for queries of three or more
//! characters; shorter ones are below the trigram minimum and walk the caller's
//! messages newest first with `instr`, stopping at the page's end. Both orders
//! are by the message's search key, which grows with every insert.
//! PostgreSQL: `lower(msg) LIKE '%…%'`, served by the trigram GIN index, in
//! the order of the messages' `search_key`, which also grows with every insert.

use sqlx::FromRow;

use super::users::escape_like;
use super::{Backend, Store, StoreResult};
use crate::contract::Message;
use crate::domain::{ConversationId, UserId};

/// The FTS5 trigram tokenizer's shortest indexed substring.
const TRIGRAM: usize = 3;

pub struct MessageSearch<'a> {
    pub user_id: &'a UserId,
    /// Trimmed, 2–100 characters.
    pub text: &'a str,
    pub conversation_id: Option<&'a ConversationId>,
    /// Only messages with a smaller search key (`i64::MAX` on the first page).
    pub before: i64,
    pub limit: i64,
}

#[derive(Debug, FromRow)]
struct Hit {
    hit_key: i64,
    conversation_id: ConversationId,
    seq: i64,
}

/// The caller's conversations now: the lobby and every membership row (direct
/// and group). `$2` is the caller, `$3` a single conversation or `''`.
const IN_CALLERS_CONVERSATIONS: &str = "(k.conversation_id = 'lobby' OR k.conversation_id IN \
     (SELECT conversation_id FROM conversation_members WHERE user_id = $2)) \
     AND ($3 = '' OR k.conversation_id = $3)";

/// The first pass on PostgreSQL: matches among the 5,000 newest live text
/// messages below `$4`, read by the `search_key` index (migration 0009); only
/// when they do not fill the page does it turn to the trigram index (or, for
/// queries under three characters, which that index cannot serve, a scan).
const SEARCH_RECENT_PG: &str = "SELECT k.search_key AS hit_key, k.conversation_id, k.seq FROM \
     (SELECT search_key, conversation_id, seq, msg FROM messages \
      WHERE type = 'text' AND deleted_at IS NULL AND search_key < $4 \
      ORDER BY search_key DESC LIMIT 5000) k \
     WHERE lower(k.msg) LIKE lower($1) ESCAPE '\\' \
     AND (k.conversation_id = 'lobby' OR k.conversation_id IN \
     (SELECT conversation_id FROM conversation_members WHERE user_id = $2)) \
     AND $3 = '' ORDER BY k.search_key DESC LIMIT $5";

/// The lowest key of the first pass's window: the second pass starts below it.
const RECENT_FLOOR_PG: &str = "SELECT min(search_key) FROM \
     (SELECT search_key FROM messages WHERE type = 'text' AND deleted_at IS NULL \
      AND search_key < $1 ORDER BY search_key DESC LIMIT 5000) w";

impl Store {
    /// One page of matches, newest first, each with its search key (a next
    /// page starts before the last one).
    pub async fn search_messages(
        &self,
        search: &MessageSearch<'_>,
    ) -> StoreResult<Vec<(Message, i64)>> {
        let short = search.text.chars().count() < TRIGRAM;
        let mut hits = Vec::new();
        let mut before = search.before;
        if self.backend == Backend::Postgres && search.conversation_id.is_none() {
            // The newest messages first: a word that is common anywhere fills
            // the page here, where the trigram index would hand over every one
            // of its matches (57,000 rows for a common word at 1M messages)
            // to be fetched, rechecked and sorted.
            hits = self
                .query_hits(SEARCH_RECENT_PG, search, before, search.limit)
                .await?;
            if hits.len() < search.limit as usize {
                before = sqlx::query_scalar::<_, Option<i64>>(RECENT_FLOOR_PG)
                    .bind(search.before)
                    .fetch_one(self.reader())
                    .await?
                    .unwrap_or(before);
            }
        }
        if hits.len() < search.limit as usize {
            let sql = match self.backend {
                Backend::Sqlite if !short => format!(
                    "SELECT k.id AS hit_key, k.conversation_id, k.seq \
                     FROM message_search s JOIN message_search_keys k ON k.id = s.rowid \
                     WHERE s.msg MATCH $1 AND {IN_CALLERS_CONVERSATIONS} \
                     AND s.rowid < $4 ORDER BY s.rowid DESC LIMIT $5"
                ),
                // Across all the caller's conversations the walk must go newest
                // first by key and stop at the page's end; left to itself SQLite
                // reads every message of every conversation through the
                // conversation index and sorts them (3.6 s at 1M messages for a
                // common word). The unary `+` keeps it off that index. Within one
                // conversation its index is the shorter walk.
                Backend::Sqlite => format!(
                    "SELECT k.id AS hit_key, k.conversation_id, k.seq \
                     FROM message_search_keys k JOIN messages m \
                     ON m.conversation_id = k.conversation_id AND m.seq = k.seq \
                     WHERE instr(lower(m.msg), lower($1)) > 0 AND m.deleted_at IS NULL \
                     AND {} AND k.id < $4 \
                     ORDER BY k.id DESC LIMIT $5",
                    if search.conversation_id.is_some() {
                        IN_CALLERS_CONVERSATIONS.to_owned()
                    } else {
                        IN_CALLERS_CONVERSATIONS.replace("k.conversation_id", "+k.conversation_id")
                    }
                ),
                // Below the recent window, for three characters or more, only
                // the trigram index: `+ 0` keeps the planner from walking the
                // `search_key` index instead, which its guess at a rare word's
                // matches makes look cheap (250 ms at 1M messages for a word
                // that is in 100 of them; 9 ms through the trigram index).
                // Shorter queries have no index to use: the newest-first walk
                // at least stops at the page's end (a rare two-character word:
                // 0.3 s that way, 1.4 s as a scan and sort).
                Backend::Postgres => {
                    let key = if short {
                        "k.search_key"
                    } else {
                        "k.search_key + 0"
                    };
                    format!(
                        "SELECT k.search_key AS hit_key, k.conversation_id, k.seq FROM messages k \
                         WHERE lower(k.msg) LIKE lower($1) ESCAPE '\\' \
                         AND k.type = 'text' AND k.deleted_at IS NULL AND {IN_CALLERS_CONVERSATIONS} \
                         AND {key} < $4 ORDER BY {key} DESC LIMIT $5"
                    )
                }
            };
            // A message sent between the first pass and the floor's read
            // moves the window up, so this pass may meet the first one's hits
            // again: ask for as many more and keep each key once.
            let rest = search.limit - hits.len() as i64;
            let more = self
                .query_hits(&sql, search, before, rest + hits.len() as i64)
                .await?;
            let first: Vec<i64> = hits.iter().map(|h| h.hit_key).collect();
            hits.extend(
                more.into_iter()
                    .filter(|h| !first.contains(&h.hit_key))
                    .take(rest as usize),
            );
        }
        self.load_hits(hits).await
    }

    /// Runs one of the hit queries: `$1` the pattern, `$2` the caller, `$3`
    /// the conversation or `''`, `$4` the key to start below, `$5` the limit.
    async fn query_hits(
        &self,
        sql: &str,
        search: &MessageSearch<'_>,
        before: i64,
        limit: i64,
    ) -> StoreResult<Vec<Hit>> {
        let pattern = match self.backend {
            Backend::Sqlite if search.text.chars().count() >= TRIGRAM => fts_phrase(search.text),
            Backend::Sqlite => search.text.to_owned(),
            Backend::Postgres => format!("%{}%", escape_like(search.text)),
        };
        Ok(sqlx::query_as(sql)
            .bind(pattern)
            .bind(search.user_id)
            .bind(search.conversation_id.map_or("", ConversationId::as_str))
            .bind(before)
            .bind(limit)
            .fetch_all(self.reader())
            .await?)
    }

    /// The hits' messages, in the hits' order, read in one query. A message
    /// deleted since the search is left out.
    async fn load_hits(&self, hits: Vec<Hit>) -> StoreResult<Vec<(Message, i64)>> {
        let keys: Vec<(&ConversationId, i64)> =
            hits.iter().map(|h| (&h.conversation_id, h.seq)).collect();
        let mut loaded = self.messages_at(&keys).await?;
        Ok(hits
            .iter()
            .filter_map(|hit| {
                let index = loaded.iter().position(|m| {
                    m.conversation_id == hit.conversation_id
                        && m.seq == hit.seq
                        && m.deleted_at.is_none()
                })?;
                Some((loaded.swap_remove(index), hit.hit_key))
            })
            .collect())
    }
}

/// The text as one FTS5 phrase: quoted, so operators and punctuation in it are
/// just characters to find.
fn fts_phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_text_is_literal() {
        assert_eq!(fts_phrase("say \"hi\" OR"), "\"say \"\"hi\"\" OR\"");
    }
}
