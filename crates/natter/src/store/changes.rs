//! The changes a writer lane applies inside its transaction: sends, edits,
//! deletes and reactions (group changes are in [`super::groups`]).
//!
//! Every change first takes the conversation's counter row (`UPDATE … RETURNING`),
//! which PostgreSQL locks until the commit: changes to one conversation, from any
//! node, are serialised there, so `seq` and `rev` are handed out in commit order
//! and without gaps. A change that turns out not to apply gives its numbers back
//! in the same transaction.

use sqlx::AnyConnection;

use super::attachments;
use super::blocks::pair_blocked;
use super::conversations::Members;
use super::messages::{message_at, replies_to};
use super::writer::{Applied, Refusal, SendRequest, Sent};
use crate::contract::{Message, MessageType, SystemInfo};
use crate::domain::{ConversationId, Emoji, MessageId, MessageText, UserId};

/// Most distinct emoji on one message.
pub const MAX_REACTIONS: i64 = 20;

/// Moves the conversation's counters by the given steps (0, 0 only locks the
/// row) and returns them: `(last_seq, last_rev)`. New messages also move the
/// conversation's activity time.
pub(crate) async fn bump(
    conn: &mut AnyConnection,
    conversation_id: &ConversationId,
    seq_step: i64,
    rev_step: i64,
    now: i64,
) -> Result<Option<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE conversations SET last_seq = last_seq + $2, last_rev = last_rev + $3, \
         last_activity_at = CASE WHEN $2 > 0 THEN $4 ELSE last_activity_at END \
         WHERE id = $1 RETURNING last_seq, last_rev",
    )
    .bind(conversation_id)
    .bind(seq_step)
    .bind(rev_step)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await
}

/// The members of a group as of this transaction, longest-standing first;
/// the fixed members of a direct conversation or the lobby otherwise.
pub(crate) async fn current_members(
    conn: &mut AnyConnection,
    conversation_id: &ConversationId,
    known: &Members,
) -> Result<Members, sqlx::Error> {
    if !matches!(known, Members::Group(_)) {
        return Ok(known.clone());
    }
    let ids: Vec<UserId> = sqlx::query_scalar(
        "SELECT user_id FROM conversation_members WHERE conversation_id = $1 \
         ORDER BY joined_rev, joined_at, user_id",
    )
    .bind(conversation_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Members::group(ids))
}

/// What a new message row holds.
pub(crate) struct NewMessage<'a> {
    pub conversation_id: &'a ConversationId,
    pub id: &'a MessageId,
    pub seq: i64,
    pub rev: i64,
    pub sender_id: &'a UserId,
    pub msg: &'a str,
    pub client_id: &'a str,
    pub system: Option<&'a SystemInfo>,
    pub reply_to: Option<i64>,
    /// Files are attached to it (the `extras` column, migration 0010).
    pub has_attachments: bool,
    pub now: i64,
}

/// Inserts the row; `false` when this sender already used this clientId.
pub(crate) async fn insert_message(
    conn: &mut AnyConnection,
    m: NewMessage<'_>,
) -> Result<bool, sqlx::Error> {
    let system = m
        .system
        .map(|s| serde_json::to_string(s).expect("a system record serialises"));
    let kind = if system.is_some() { "system" } else { "text" };
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO messages (conversation_id, seq, id, sender_id, msg, client_id, created_at, \
         type, system, reply_to, rev, extras) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (sender_id, client_id) DO NOTHING RETURNING seq",
    )
    .bind(m.conversation_id)
    .bind(m.seq)
    .bind(m.id)
    .bind(m.sender_id)
    .bind(m.msg)
    .bind(m.client_id)
    .bind(m.now)
    .bind(kind)
    .bind(system)
    .bind(m.reply_to)
    .bind(m.rev)
    .bind(i64::from(m.has_attachments))
    .fetch_optional(&mut *conn)
    .await?;
    Ok(inserted.is_some())
}

const EXISTING_SQL: &str =
    "SELECT conversation_id, seq FROM messages WHERE sender_id = $1 AND client_id = $2";

/// A send that is not plain enough for [`super::bulk_send`] (a reply, files,
/// a group), in three statements on the common path: take the next seq and
/// rev, insert, read the stored message back (with its reply's quote); a
/// direct chat's also checks, under the counter's lock, that neither of the
/// pair blocks the other. A retried clientId
/// hits the unique index instead; then the numbers are given back and the
/// stored message returned. In a group, a sender removed since the service let
/// the send queue is refused here, under the counter's lock.
pub(crate) async fn send(
    conn: &mut AnyConnection,
    id: &MessageId,
    req: &SendRequest,
    now: i64,
) -> Result<Result<(Applied, Members), Refusal>, sqlx::Error> {
    let (seq, rev) = bump(conn, &req.conversation_id, 1, 1, now)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    if let Members::Pair(a, b) = &req.members
        && pair_blocked(&mut *conn, a, b).await?
    {
        bump(conn, &req.conversation_id, -1, -1, now).await?;
        return Ok(Err(Refusal::Blocked));
    }
    let members = current_members(conn, &req.conversation_id, &req.members).await?;
    if !members.includes(&req.sender_id) {
        bump(conn, &req.conversation_id, -1, -1, now).await?;
        return Ok(Err(Refusal::NotFound("conversation")));
    }
    if !req.attachments.is_empty() {
        // A retried send finds its message (and attachments) already stored.
        if let Some(existing) = existing(conn, req).await? {
            bump(conn, &req.conversation_id, -1, -1, now).await?;
            return Ok(Ok((Applied::Sent(Sent::Existing(existing)), members)));
        }
        let attached = attachments::attach(
            conn,
            &req.conversation_id,
            seq,
            &req.sender_id,
            &req.attachments,
        )
        .await?;
        if let Err(refusal) = attached {
            bump(conn, &req.conversation_id, -1, -1, now).await?;
            return Ok(Err(refusal));
        }
    }
    let inserted = insert_message(
        conn,
        NewMessage {
            conversation_id: &req.conversation_id,
            id,
            seq,
            rev,
            sender_id: &req.sender_id,
            msg: req.msg.as_str(),
            client_id: req.client_id.as_str(),
            system: None,
            reply_to: req.reply_to,
            has_attachments: !req.attachments.is_empty(),
            now,
        },
    )
    .await?;
    if inserted {
        let message = stored(conn, &req.conversation_id, seq).await?;
        return Ok(Ok((Applied::Sent(Sent::New(message)), members)));
    }
    bump(conn, &req.conversation_id, -1, -1, now).await?;
    let existing = existing(conn, req).await?.ok_or(sqlx::Error::RowNotFound)?;
    Ok(Ok((Applied::Sent(Sent::Existing(existing)), members)))
}

/// The message this sender already stored with this clientId, if any.
async fn existing(
    conn: &mut AnyConnection,
    req: &SendRequest,
) -> Result<Option<Message>, sqlx::Error> {
    let found: Option<(ConversationId, i64)> = sqlx::query_as(EXISTING_SQL)
        .bind(&req.sender_id)
        .bind(req.client_id.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    match found {
        Some((conversation_id, seq)) => Ok(Some(stored(conn, &conversation_id, seq).await?)),
        None => Ok(None),
    }
}

async fn stored(
    conn: &mut AnyConnection,
    conversation_id: &ConversationId,
    seq: i64,
) -> Result<Message, sqlx::Error> {
    message_at(conn, conversation_id, seq)
        .await?
        .ok_or(sqlx::Error::RowNotFound)
}

/// A change to one existing message.
#[derive(Debug, Clone)]
pub enum Edit {
    Text(MessageText),
    Delete,
    React { emoji: Emoji, add: bool },
}

/// Applies an edit, delete or reaction change of `user_id` to message `seq`.
/// Returns the message after it and every reply whose quote changed with it
/// (each with a rev of its own); nothing changes, and no rev is used, for a
/// reaction that is already there or already gone.
pub(crate) async fn edit(
    conn: &mut AnyConnection,
    conversation_id: &ConversationId,
    members: &Members,
    seq: i64,
    user_id: &UserId,
    edit: &Edit,
    now: i64,
) -> Result<Result<(Applied, Members), Refusal>, sqlx::Error> {
    bump(conn, conversation_id, 0, 0, now)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    let members = current_members(conn, conversation_id, members).await?;
    if !members.includes(user_id) {
        return Ok(Err(Refusal::NotFound("conversation")));
    }
    let Some(message) = message_at(conn, conversation_id, seq).await? else {
        return Ok(Err(Refusal::NotFound("message")));
    };
    let is_live_text = message.kind == MessageType::Text && message.deleted_at.is_none();
    let changed = match edit {
        Edit::Text(_) | Edit::Delete if message.sender_id != *user_id => {
            return Ok(Err(Refusal::NotSender));
        }
        _ if !is_live_text => return Ok(Err(Refusal::NotEditable)),
        Edit::Text(text) => {
            let (_, rev) = next_rev(conn, conversation_id, now).await?;
            sqlx::query(
                "UPDATE messages SET msg = $3, edited_at = $4, rev = $5 \
                 WHERE conversation_id = $1 AND seq = $2",
            )
            .bind(conversation_id)
            .bind(seq)
            .bind(text.as_str())
            .bind(now)
            .bind(rev)
            .execute(&mut *conn)
            .await?;
            true
        }
        Edit::Delete => {
            let (_, rev) = next_rev(conn, conversation_id, now).await?;
            sqlx::query("DELETE FROM reactions WHERE conversation_id = $1 AND seq = $2")
                .bind(conversation_id)
                .bind(seq)
                .execute(&mut *conn)
                .await?;
            attachments::remove_of_message(conn, conversation_id, seq).await?;
            // The text is gone from the row itself, not hidden: a tombstone keeps
            // only its place in the order.
            sqlx::query(
                "UPDATE messages SET msg = '', reply_to = NULL, deleted_at = $3, rev = $4 \
                 WHERE conversation_id = $1 AND seq = $2",
            )
            .bind(conversation_id)
            .bind(seq)
            .bind(now)
            .bind(rev)
            .execute(&mut *conn)
            .await?;
            true
        }
        Edit::React { emoji, add } => {
            match react(conn, conversation_id, seq, user_id, emoji, *add, now).await? {
                Ok(changed) => changed,
                Err(refusal) => return Ok(Err(refusal)),
            }
        }
    };
    if !changed {
        return Ok(Ok((Applied::Unchanged(message), members)));
    }
    let message = stored(conn, conversation_id, seq).await?;
    let mut replies = Vec::new();
    if matches!(edit, Edit::Text(_) | Edit::Delete) {
        for reply in replies_to(conn, conversation_id, seq).await? {
            let (_, rev) = next_rev(conn, conversation_id, now).await?;
            sqlx::query("UPDATE messages SET rev = $3 WHERE conversation_id = $1 AND seq = $2")
                .bind(conversation_id)
                .bind(reply)
                .bind(rev)
                .execute(&mut *conn)
                .await?;
            replies.push(stored(conn, conversation_id, reply).await?);
        }
    }
    Ok(Ok((Applied::Updated { message, replies }, members)))
}

async fn next_rev(
    conn: &mut AnyConnection,
    conversation_id: &ConversationId,
    now: i64,
) -> Result<(i64, i64), sqlx::Error> {
    bump(conn, conversation_id, 0, 1, now)
        .await?
        .ok_or(sqlx::Error::RowNotFound)
}

/// Adds or removes one user's reaction; `Ok(false)` when that was already so.
async fn react(
    conn: &mut AnyConnection,
    conversation_id: &ConversationId,
    seq: i64,
    user_id: &UserId,
    emoji: &Emoji,
    add: bool,
    now: i64,
) -> Result<Result<bool, Refusal>, sqlx::Error> {
    let held: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM reactions WHERE conversation_id = $1 AND seq = $2 AND emoji = $3 \
         AND user_id = $4",
    )
    .bind(conversation_id)
    .bind(seq)
    .bind(emoji.as_str())
    .bind(user_id)
    .fetch_one(&mut *conn)
    .await?;
    if (held > 0) == add {
        return Ok(Ok(false));
    }
    if add {
        let (distinct, this_one): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(DISTINCT emoji), COUNT(DISTINCT CASE WHEN emoji = $3 THEN emoji END) \
             FROM reactions WHERE conversation_id = $1 AND seq = $2",
        )
        .bind(conversation_id)
        .bind(seq)
        .bind(emoji.as_str())
        .fetch_one(&mut *conn)
        .await?;
        if this_one == 0 && distinct >= MAX_REACTIONS {
            return Ok(Err(Refusal::TooManyReactions));
        }
    }
    let (_, rev) = next_rev(conn, conversation_id, now).await?;
    let change = if add {
        sqlx::query(
            "INSERT INTO reactions (conversation_id, seq, emoji, user_id, rev) \
             VALUES ($1, $2, $3, $4, $5)",
        )
    } else {
        sqlx::query(
            "DELETE FROM reactions WHERE conversation_id = $1 AND seq = $2 AND emoji = $3 \
             AND user_id = $4",
        )
    };
    let change = change
        .bind(conversation_id)
        .bind(seq)
        .bind(emoji.as_str())
        .bind(user_id);
    let change = if add { change.bind(rev) } else { change };
    change.execute(&mut *conn).await?;
    sqlx::query("UPDATE messages SET rev = $3, extras = 1 WHERE conversation_id = $1 AND seq = $2")
        .bind(conversation_id)
        .bind(seq)
        .bind(rev)
        .execute(&mut *conn)
        .await?;
    Ok(Ok(true))
}
