//! Message history: keyset pages on `(conversation_id, seq)` and, for catching
//! up on changes, on `(conversation_id, rev)`; never OFFSET.
//!
//! A message is its row, the quoted original of a reply (joined, so a reply
//! always shows the original as it is now) and its reactions (one more query
//! per page, grouped here) and its attachments (one more).

use std::collections::HashMap;
use std::fmt::Write;

use serde_json::value::RawValue;
use sqlx::{AnyConnection, FromRow};

use super::attachments::attachments_of;
use super::{Store, StoreError, StoreResult};
use crate::contract::{Attachment, Message, MessageType, Reaction, ReplyTo, SystemInfo};
use crate::domain::{ConversationId, MessageId, PageLimit, Seq, UserId};

/// Which slice of a conversation to read. `before` and `after` are exclusive
/// seqs; `since_rev` (exclusive) reads changes in rev order instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageQuery {
    pub before: Option<Seq>,
    pub after: Option<Seq>,
    pub since_rev: Option<i64>,
    pub limit: PageLimit,
}

/// One message row with its reply's original; reactions come separately.
#[derive(Debug, FromRow)]
struct MessageRow {
    id: MessageId,
    conversation_id: ConversationId,
    seq: i64,
    sender_id: UserId,
    user: String,
    msg: String,
    client_id: String,
    created_at: i64,
    kind: String,
    system: Option<String>,
    edited_at: Option<i64>,
    deleted_at: Option<i64>,
    rev: i64,
    reply_seq: Option<i64>,
    reply_sender: Option<UserId>,
    reply_msg: Option<String>,
}

impl MessageRow {
    fn into_message(self, reactions: Vec<Reaction>, attachments: Vec<Attachment>) -> Message {
        let reply_to = match (self.reply_seq, self.reply_sender) {
            (Some(seq), Some(sender_id)) => Some(ReplyTo {
                seq,
                sender_id,
                msg: self.reply_msg.unwrap_or_default(),
            }),
            _ => None,
        };
        Message {
            id: self.id,
            conversation_id: self.conversation_id,
            seq: self.seq,
            sender_id: self.sender_id,
            user: self.user,
            msg: self.msg,
            client_id: self.client_id,
            created_at: self.created_at,
            kind: if self.kind == "system" {
                MessageType::System
            } else {
                MessageType::Text
            },
            system: self
                .system
                .and_then(|json| serde_json::from_str::<SystemInfo>(&json).ok()),
            reply_to,
            edited_at: self.edited_at,
            deleted_at: self.deleted_at,
            reactions,
            attachments,
            rev: self.rev,
        }
    }
}

/// Rows of `messages m` (with the sender `u` and the reply's original `o`);
/// the caller adds `WHERE`, `ORDER BY` and `LIMIT`.
const SELECT_MESSAGES: &str = "SELECT m.id, m.conversation_id, m.seq, m.sender_id, \
     u.username AS \"user\", m.msg, m.client_id, m.created_at, m.type AS kind, m.system, \
     m.edited_at, m.deleted_at, m.rev, o.seq AS reply_seq, o.sender_id AS reply_sender, \
     SUBSTR(o.msg, 1, 200) AS reply_msg \
     FROM messages m JOIN users u ON u.id = m.sender_id \
     LEFT JOIN messages o ON o.conversation_id = m.conversation_id AND o.seq = m.reply_to";

/// The messages of one conversation that `filter` (binding `$2`, `$3`, … after
/// the conversation id) selects, in the order `rows` gives, with reactions.
async fn load(
    conn: &mut AnyConnection,
    conversation_id: &ConversationId,
    filter_and_order: &str,
    binds: &[i64],
) -> Result<Vec<Message>, sqlx::Error> {
    let sql = format!("{SELECT_MESSAGES} WHERE m.conversation_id = $1 AND {filter_and_order}");
    let mut query = sqlx::query_as::<_, MessageRow>(&sql).bind(conversation_id);
    for value in binds {
        query = query.bind(*value);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    let list = seq_list(rows.iter().map(|row| row.seq));
    if list.is_empty() {
        return Ok(Vec::new());
    }
    let mut reactions = reactions_of(conn, conversation_id, &list).await?;
    let mut attachments = attachments_of(conn, conversation_id, &list).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let seq = row.seq;
            row.into_message(
                reactions.remove(&seq).unwrap_or_default(),
                attachments.remove(&seq).unwrap_or_default(),
            )
        })
        .collect())
}

/// Reactions of the given messages: emoji in order of first use (the smallest
/// rev), users in the order they reacted.
async fn reactions_of(
    conn: &mut AnyConnection,
    conversation_id: &ConversationId,
    seq_list: &str,
) -> Result<HashMap<i64, Vec<Reaction>>, sqlx::Error> {
    let sql = format!(
        "SELECT seq, emoji, user_id FROM reactions WHERE conversation_id = $1 AND seq IN ({seq_list}) \
         ORDER BY seq, rev"
    );
    let rows: Vec<(i64, String, UserId)> = sqlx::query_as(&sql)
        .bind(conversation_id)
        .fetch_all(&mut *conn)
        .await?;
    let mut by_seq: HashMap<i64, Vec<Reaction>> = HashMap::new();
    for (seq, emoji, user_id) in rows {
        let reactions = by_seq.entry(seq).or_default();
        match reactions.iter_mut().find(|r| r.emoji == emoji) {
            Some(reaction) => reaction.user_ids.push(user_id),
            None => reactions.push(Reaction {
                emoji,
                user_ids: vec![user_id],
            }),
        }
    }
    Ok(by_seq)
}

/// One message by seq, read on `conn` (inside a writer's transaction, it sees
/// that transaction's changes).
pub(crate) async fn message_at(
    conn: &mut AnyConnection,
    conversation_id: &ConversationId,
    seq: i64,
) -> Result<Option<Message>, sqlx::Error> {
    Ok(load(conn, conversation_id, "m.seq = $2", &[seq])
        .await?
        .pop())
}

/// The messages at the given seqs of one conversation, in seq order.
pub(crate) async fn messages_at(
    conn: &mut AnyConnection,
    conversation_id: &ConversationId,
    seqs: &[i64],
) -> Result<Vec<Message>, sqlx::Error> {
    if seqs.is_empty() {
        return Ok(Vec::new());
    }
    load(
        conn,
        conversation_id,
        &format!(
            "m.seq IN ({}) ORDER BY m.seq",
            seq_list(seqs.iter().copied())
        ),
        &[],
    )
    .await
}

/// Integers from our own rows, formatted for `IN (…)`: nothing from a client.
fn seq_list(seqs: impl Iterator<Item = i64>) -> String {
    let mut list = String::new();
    for seq in seqs {
        let _ = write!(list, "{}{seq}", if list.is_empty() { "" } else { "," });
    }
    list
}

/// The replies to `seq`, whose quote follows the original.
pub(crate) async fn replies_to(
    conn: &mut AnyConnection,
    conversation_id: &ConversationId,
    seq: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT seq FROM messages WHERE conversation_id = $1 AND reply_to = $2")
        .bind(conversation_id)
        .bind(seq)
        .fetch_all(&mut *conn)
        .await
}

impl Store {
    /// A page of messages as a JSON array, and whether more lie beyond it in
    /// the direction of travel. By seq (ascending; older for `before` or no
    /// cursor, newer for `after`), or with `since_rev` every message changed
    /// after that rev, ascending by rev.
    pub async fn messages_page(
        &self,
        conversation_id: &ConversationId,
        page: PageQuery,
    ) -> StoreResult<(Box<RawValue>, bool)> {
        let limit = page.limit.get();
        let mut conn = self.reader().acquire().await?;
        let mut messages = if let Some(rev) = page.since_rev {
            load(
                &mut conn,
                conversation_id,
                "m.rev > $2 ORDER BY m.rev LIMIT $3",
                &[rev, limit + 1],
            )
            .await?
        } else {
            let direction = if page.after.is_none() { "DESC" } else { "ASC" };
            let after = page.after.map_or(-1, Seq::get);
            let before = page.before.map_or(i64::MAX, Seq::get);
            load(
                &mut conn,
                conversation_id,
                &format!("m.seq > $2 AND m.seq < $3 ORDER BY m.seq {direction} LIMIT $4"),
                &[after, before, limit + 1],
            )
            .await?
        };
        let has_more = messages.len() as i64 > limit;
        messages.truncate(limit as usize);
        if page.since_rev.is_none() && page.after.is_none() {
            messages.reverse();
        }
        let json = serde_json::to_string(&messages)
            .map_err(|e| StoreError::Database(sqlx::Error::Decode(e.into())))?;
        let json = RawValue::from_string(json)
            .map_err(|e| StoreError::Database(sqlx::Error::Decode(e.into())))?;
        Ok((json, has_more))
    }

    /// One message by seq; `None` when the conversation has no such message.
    pub async fn message(
        &self,
        conversation_id: &ConversationId,
        seq: i64,
    ) -> StoreResult<Option<Message>> {
        let mut conn = self.reader().acquire().await?;
        Ok(message_at(&mut conn, conversation_id, seq).await?)
    }
}
