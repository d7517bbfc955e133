//! Message history: keyset pages on `(conversation_id, seq)` and, for catching
//! up on changes, on `(conversation_id, rev)`; never OFFSET.
//!
//! A message is its row, the quoted original of a reply (joined, so a reply
//! always shows the original as it is now) and its reactions and attachments
//! (one more query each, grouped here, only when the rows say they have some).
//! The same SQL runs on SQLite's native driver for reads outside the writer
//! and on the `Any` driver otherwise ([`super::read`]); on SQLite, history
//! pages are built as JSON by SQLite instead ([`super::page_json`]).

use std::collections::HashMap;
use std::fmt::Write;

use sqlx::{AnyConnection, FromRow};

use super::attachments::attachments_of;
use super::read::{Bind, FetchRows};
use super::{MessageReader, Store, StoreError, StoreResult};
use crate::contract::bodies::{HistoryPage, HistoryPageJson};
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

/// One message row with its reply's original; reactions and attachments come
/// separately.
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
    has_reactions: i64,
    has_attachments: i64,
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
/// the caller adds the condition, `ORDER BY` and `LIMIT`. Two flags say whether
/// a row has reactions or attachments, so that the page asks for those only
/// when it has any (most pages have none): one query per page, not three.
const SELECT_MESSAGES: &str = "SELECT m.id, m.conversation_id, m.seq, m.sender_id, \
     u.username AS \"user\", m.msg, m.client_id, m.created_at, m.type AS kind, m.system, \
     m.edited_at, m.deleted_at, m.rev, o.seq AS reply_seq, o.sender_id AS reply_sender, \
     SUBSTR(o.msg, 1, 200) AS reply_msg, \
     CASE WHEN EXISTS (SELECT 1 FROM reactions r \
          WHERE r.conversation_id = m.conversation_id AND r.seq = m.seq) \
          THEN 1 ELSE 0 END AS has_reactions, \
     CASE WHEN EXISTS (SELECT 1 FROM attachments a \
          WHERE a.conversation_id = m.conversation_id AND a.seq = m.seq) \
          THEN 1 ELSE 0 END AS has_attachments \
     FROM messages m JOIN users u ON u.id = m.sender_id \
     LEFT JOIN messages o ON o.conversation_id = m.conversation_id AND o.seq = m.reply_to";

/// The messages that `condition` selects (on `m`, binding `binds` as `$1`,
/// `$2`, …), in the order it gives, with their reactions and attachments.
async fn load<C: FetchRows>(
    conn: &mut C,
    condition: &str,
    binds: &[Bind<'_>],
) -> Result<Vec<Message>, sqlx::Error> {
    let sql = format!("{SELECT_MESSAGES} WHERE {condition}");
    let rows: Vec<MessageRow> = conn.fetch_rows(&sql, binds).await?;
    let mut reactions = HashMap::new();
    let mut attachments = HashMap::new();
    for (conversation_id, seqs) in flagged(&rows, |row| row.has_reactions) {
        reactions.extend(
            reactions_of(conn, conversation_id, &seqs)
                .await?
                .into_iter()
                .map(|(seq, list)| ((conversation_id, seq), list)),
        );
    }
    for (conversation_id, seqs) in flagged(&rows, |row| row.has_attachments) {
        attachments.extend(
            attachments_of(conn, conversation_id, &seqs)
                .await?
                .into_iter()
                .map(|(seq, list)| ((conversation_id, seq), list)),
        );
    }
    // The maps borrow the rows' conversation ids: take what each row needs
    // first, then let the rows go.
    let extras: Vec<(Vec<Reaction>, Vec<Attachment>)> = rows
        .iter()
        .map(|row| {
            let key = (&row.conversation_id, row.seq);
            (
                reactions.remove(&key).unwrap_or_default(),
                attachments.remove(&key).unwrap_or_default(),
            )
        })
        .collect();
    drop((reactions, attachments));
    Ok(rows
        .into_iter()
        .zip(extras)
        .map(|(row, (reactions, attachments))| row.into_message(reactions, attachments))
        .collect())
}

/// The seqs, as an `IN (…)` list, of the rows `flag` marks, by conversation.
fn flagged(
    rows: &[MessageRow],
    flag: impl Fn(&MessageRow) -> i64,
) -> Vec<(&ConversationId, String)> {
    let mut lists: Vec<(&ConversationId, Vec<i64>)> = Vec::new();
    for row in rows.iter().filter(|row| flag(row) != 0) {
        match lists.iter_mut().find(|(id, _)| *id == &row.conversation_id) {
            Some((_, seqs)) => seqs.push(row.seq),
            None => lists.push((&row.conversation_id, vec![row.seq])),
        }
    }
    lists
        .into_iter()
        .map(|(id, seqs)| (id, seq_list(seqs.into_iter())))
        .collect()
}

/// Reactions of the given messages: emoji in order of first use (the smallest
/// rev), users in the order they reacted.
async fn reactions_of<C: FetchRows>(
    conn: &mut C,
    conversation_id: &ConversationId,
    seq_list: &str,
) -> Result<HashMap<i64, Vec<Reaction>>, sqlx::Error> {
    let sql = format!(
        "SELECT seq, emoji, user_id FROM reactions WHERE conversation_id = $1 AND seq IN ({seq_list}) \
         ORDER BY seq, rev"
    );
    let rows: Vec<(i64, String, UserId)> = conn
        .fetch_rows(&sql, &[Bind::Text(conversation_id.as_str())])
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
    Ok(load(
        conn,
        "m.conversation_id = $1 AND m.seq = $2",
        &[Bind::Text(conversation_id.as_str()), Bind::Int(seq)],
    )
    .await?
    .pop())
}

/// The condition for the messages at the given `(conversation, seq)` keys and
/// its binds (the conversation ids; the seqs are our own integers, inlined),
/// ordered by conversation and seq.
fn keys_condition<'a>(keys: &[(&'a ConversationId, i64)]) -> (String, Vec<Bind<'a>>) {
    let mut by_conversation: Vec<(&ConversationId, Vec<i64>)> = Vec::new();
    for &(id, seq) in keys {
        match by_conversation.iter_mut().find(|(c, _)| *c == id) {
            Some((_, seqs)) => seqs.push(seq),
            None => by_conversation.push((id, vec![seq])),
        }
    }
    let mut condition = String::from("(");
    let mut binds = Vec::with_capacity(by_conversation.len());
    for (i, (id, seqs)) in by_conversation.into_iter().enumerate() {
        let _ = write!(
            condition,
            "{}(m.conversation_id = ${} AND m.seq IN ({}))",
            if i == 0 { "" } else { " OR " },
            i + 1,
            seq_list(seqs.into_iter())
        );
        binds.push(Bind::Text(id.as_str()));
    }
    condition.push_str(") ORDER BY m.conversation_id, m.seq");
    (condition, binds)
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
    /// `load` on a connection of the message reader: SQLite's native driver,
    /// or PostgreSQL's `Any` pool.
    async fn read_messages(
        &self,
        condition: &str,
        binds: &[Bind<'_>],
    ) -> Result<Vec<Message>, sqlx::Error> {
        match self.message_reader() {
            MessageReader::Sqlite { rows, .. } => {
                load(&mut *rows.acquire().await?, condition, binds).await
            }
            MessageReader::Any(pool) => load(&mut *pool.acquire().await?, condition, binds).await,
        }
    }

    /// A page of messages and whether more lie beyond it in the direction of
    /// travel, written out as JSON. By seq (ascending; older for `before` or
    /// no cursor, newer for `after`), or with `since_rev` every message
    /// changed after that rev, ascending by rev.
    pub async fn messages_page(
        &self,
        conversation_id: &ConversationId,
        page: PageQuery,
    ) -> StoreResult<HistoryPageJson> {
        if let MessageReader::Sqlite { pages, .. } = self.message_reader() {
            return super::page_json::sqlite_page(pages, conversation_id, page)
                .await
                .map_err(StoreError::Page);
        }
        let limit = page.limit.get();
        let conversation = Bind::Text(conversation_id.as_str());
        let mut messages = if let Some(rev) = page.since_rev {
            self.read_messages(
                "m.conversation_id = $1 AND m.rev > $2 ORDER BY m.rev LIMIT $3",
                &[conversation, Bind::Int(rev), Bind::Int(limit + 1)],
            )
            .await?
        } else {
            let after = page.after.map_or(-1, Seq::get);
            let before = page.before.map_or(i64::MAX, Seq::get);
            let condition = if page.after.is_none() {
                "m.conversation_id = $1 AND m.seq > $2 AND m.seq < $3 ORDER BY m.seq DESC LIMIT $4"
            } else {
                "m.conversation_id = $1 AND m.seq > $2 AND m.seq < $3 ORDER BY m.seq ASC LIMIT $4"
            };
            self.read_messages(
                condition,
                &[
                    conversation,
                    Bind::Int(after),
                    Bind::Int(before),
                    Bind::Int(limit + 1),
                ],
            )
            .await?
        };
        let has_more = messages.len() as i64 > limit;
        messages.truncate(limit as usize);
        if page.since_rev.is_none() && page.after.is_none() {
            messages.reverse();
        }
        HistoryPageJson::from_page(&HistoryPage { messages, has_more })
            .map_err(|e| StoreError::Database(sqlx::Error::Decode(e.into())))
    }

    /// One message by seq; `None` when the conversation has no such message.
    pub async fn message(
        &self,
        conversation_id: &ConversationId,
        seq: i64,
    ) -> StoreResult<Option<Message>> {
        Ok(self
            .read_messages(
                "m.conversation_id = $1 AND m.seq = $2",
                &[Bind::Text(conversation_id.as_str()), Bind::Int(seq)],
            )
            .await?
            .pop())
    }

    /// The messages at the given `(conversation, seq)` keys, those that exist,
    /// ordered by conversation and seq: one query for up to
    /// [`KEYS_PER_QUERY`] conversations.
    pub async fn messages_at(&self, keys: &[(&ConversationId, i64)]) -> StoreResult<Vec<Message>> {
        let mut conversations: Vec<&ConversationId> = keys.iter().map(|(id, _)| *id).collect();
        conversations.sort();
        conversations.dedup();
        let mut messages = Vec::with_capacity(keys.len());
        for chunk in conversations.chunks(KEYS_PER_QUERY) {
            let keys: Vec<(&ConversationId, i64)> = keys
                .iter()
                .filter(|(id, _)| chunk.contains(id))
                .copied()
                .collect();
            let (condition, binds) = keys_condition(&keys);
            messages.extend(self.read_messages(&condition, &binds).await?);
        }
        Ok(messages)
    }
}

/// Conversations per query of [`Store::messages_at`]: each is one `OR` term,
/// and SQLite refuses expressions nested deeper than 1,000.
const KEYS_PER_QUERY: usize = 200;
