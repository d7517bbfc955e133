//! Conversations: the lobby, one direct conversation per pair of users, and
//! groups ([`super::groups`]), with each member's read mark.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use sqlx::FromRow;

use super::users::UserRow;
use super::{Store, StoreResult};
use crate::domain::{ConversationId, Millis, Seq, UserId};

/// Who may read and write a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Members {
    /// Every user.
    Everyone,
    Pair(UserId, UserId),
    /// A group's members at the time they were read, longest-standing first.
    Group(Arc<Vec<UserId>>),
}

impl Members {
    pub fn group(ids: Vec<UserId>) -> Self {
        Self::Group(Arc::new(ids))
    }

    pub fn includes(&self, user_id: &UserId) -> bool {
        match self {
            Self::Everyone => true,
            Self::Pair(a, b) => a == user_id || b == user_id,
            Self::Group(ids) => ids.contains(user_id),
        }
    }
}

/// A conversation as one member sees it: their read mark, the peer's and the
/// peer, fetched in one query (the last message is read with `Store::message`).
#[derive(Debug, FromRow)]
pub struct ConversationRow {
    pub id: ConversationId,
    pub kind: String,
    pub title: Option<String>,
    pub owner_id: Option<UserId>,
    pub member_count: i64,
    pub last_seq: i64,
    pub last_rev: i64,
    pub created_at: i64,
    pub last_activity_at: i64,
    pub my_read: i64,
    pub peer_read: i64,
    /// 1 when the viewer muted it.
    pub muted: i64,
    pub p_id: Option<UserId>,
    pub p_username: Option<String>,
    pub p_display_name: Option<String>,
    pub p_status_message: Option<String>,
    pub p_avatar_id: Option<String>,
    pub p_last_seen_at: Option<i64>,
}

impl ConversationRow {
    pub fn peer(&self) -> Option<UserRow> {
        Some(UserRow {
            id: self.p_id.clone()?,
            username: self.p_username.clone()?,
            display_name: self.p_display_name.clone()?,
            status_message: self.p_status_message.clone().unwrap_or_default(),
            avatar_id: self.p_avatar_id.clone(),
            last_seen_at: self.p_last_seen_at,
        })
    }
}

/// `$1` is the viewer; `$2` narrows to one conversation id, or '' for all;
/// `$3` = 1 drops the membership condition (a removed member's last view).
const CONVERSATION_QUERY: &str = "\
SELECT c.id, c.kind, c.title, c.owner_id, c.last_seq, c.last_rev, c.created_at, c.last_activity_at,
       CASE c.kind WHEN 'lobby' THEN (SELECT COUNT(*) FROM users)
                   WHEN 'direct' THEN 2
                   ELSE (SELECT COUNT(*) FROM conversation_members x WHERE x.conversation_id = c.id)
       END AS member_count,
       COALESCE(mine.last_read_seq, 0) AS my_read,
       COALESCE(theirs.last_read_seq, 0) AS peer_read,
       (SELECT COUNT(*) FROM conversation_mutes mu
        WHERE mu.conversation_id = c.id AND mu.user_id = $1) AS muted,
       p.id AS p_id, p.username AS p_username, p.display_name AS p_display_name,
       p.status_message AS p_status_message, p.avatar_id AS p_avatar_id,
       p.last_seen_at AS p_last_seen_at
FROM conversations c
LEFT JOIN read_marks mine ON mine.conversation_id = c.id AND mine.user_id = $1
LEFT JOIN users p ON p.id = (CASE WHEN c.user_a = $1 THEN c.user_b ELSE c.user_a END)
LEFT JOIN read_marks theirs ON theirs.conversation_id = c.id AND theirs.user_id = p.id
WHERE ($3 = 1 OR c.kind = 'lobby' OR c.user_a = $1 OR c.user_b = $1
       OR (c.kind = 'group' AND EXISTS (SELECT 1 FROM conversation_members cm
                                         WHERE cm.conversation_id = c.id AND cm.user_id = $1)))
  AND ($2 = '' OR c.id = $2)
ORDER BY c.last_activity_at DESC, c.id";

const DIRECT_BETWEEN: &str = "SELECT id FROM conversations WHERE user_a = $1 AND user_b = $2";

/// Everyone sharing a direct or group conversation with `$1` (the lobby has no
/// member rows, so it does not count).
const CONTACTS: &str = "\
SELECT DISTINCT other.user_id FROM conversation_members mine
JOIN conversation_members other ON other.conversation_id = mine.conversation_id
WHERE mine.user_id = $1 AND other.user_id <> $1";

impl Store {
    /// Who shares a conversation other than the lobby with `user_id`: the users
    /// whose presence and profile changes `user_id` hears of.
    pub async fn contacts_of(&self, user_id: &UserId) -> StoreResult<Vec<UserId>> {
        Ok(sqlx::query_scalar(CONTACTS)
            .bind(user_id)
            .fetch_all(self.reader())
            .await?)
    }

    /// Mutes or unmutes a conversation for one user; idempotent.
    pub async fn set_muted(
        &self,
        conversation_id: &ConversationId,
        user_id: &UserId,
        muted: bool,
    ) -> StoreResult<()> {
        let sql = if muted {
            "INSERT INTO conversation_mutes (conversation_id, user_id) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM conversation_mutes WHERE conversation_id = $1 AND user_id = $2"
        };
        sqlx::query(sql)
            .bind(conversation_id)
            .bind(user_id)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// The direct conversation of a pair, created if it does not exist yet.
    /// Returns its id and whether this call created it.
    pub async fn find_or_create_direct(
        &self,
        user_x: &UserId,
        user_y: &UserId,
        new_id: &ConversationId,
        now: Millis,
    ) -> StoreResult<(ConversationId, bool)> {
        let (a, b) = if user_x < user_y {
            (user_x, user_y)
        } else {
            (user_y, user_x)
        };
        let mut tx = self.writer().begin().await?;
        let inserted: Option<ConversationId> = sqlx::query_scalar(
            "INSERT INTO conversations (id, kind, user_a, user_b, last_seq, last_activity_at, created_at) \
             VALUES ($1, 'direct', $2, $3, 0, $4, $4) ON CONFLICT (user_a, user_b) DO NOTHING RETURNING id",
        )
        .bind(new_id)
        .bind(a)
        .bind(b)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(id) = inserted {
            // Direct members are listed too: "who shares a conversation with X"
            // is then one query over every kind.
            for user in [a, b] {
                sqlx::query(
                    "INSERT INTO conversation_members (conversation_id, user_id, joined_at) \
                     VALUES ($1, $2, $3)",
                )
                .bind(&id)
                .bind(user)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            return Ok((id, true));
        }
        tx.rollback().await?;
        let id = sqlx::query_scalar(DIRECT_BETWEEN)
            .bind(a)
            .bind(b)
            .fetch_one(self.writer())
            .await?;
        Ok((id, false))
    }

    /// The direct conversation of a pair, if it was ever started.
    pub async fn direct_between(
        &self,
        user_x: &UserId,
        user_y: &UserId,
    ) -> StoreResult<Option<ConversationId>> {
        let (a, b) = if user_x < user_y {
            (user_x, user_y)
        } else {
            (user_y, user_x)
        };
        Ok(sqlx::query_scalar(DIRECT_BETWEEN)
            .bind(a)
            .bind(b)
            .fetch_optional(self.reader())
            .await?)
    }

    /// Every conversation of the user, most recent activity first.
    pub async fn conversations_of(&self, user_id: &UserId) -> StoreResult<Vec<ConversationRow>> {
        Ok(sqlx::query_as(CONVERSATION_QUERY)
            .bind(user_id)
            .bind("")
            .bind(0_i64)
            .fetch_all(self.reader())
            .await?)
    }

    /// One conversation as `user_id` sees it; `None` when it does not exist or
    /// the user is not a member.
    pub async fn conversation_for(
        &self,
        user_id: &UserId,
        conversation_id: &ConversationId,
    ) -> StoreResult<Option<ConversationRow>> {
        self.conversation_view(user_id, conversation_id, false)
            .await
    }

    /// One conversation as `user_id` sees it; with `even_if_not_member`, also
    /// when they are not (or no longer) a member.
    pub async fn conversation_view(
        &self,
        user_id: &UserId,
        conversation_id: &ConversationId,
        even_if_not_member: bool,
    ) -> StoreResult<Option<ConversationRow>> {
        Ok(sqlx::query_as(CONVERSATION_QUERY)
            .bind(user_id)
            .bind(conversation_id)
            .bind(i64::from(even_if_not_member))
            .fetch_optional(self.reader())
            .await?)
    }

    /// Who belongs to a conversation; `None` when it does not exist. The lobby's
    /// and a direct conversation's members never change, so those answers are
    /// memoised; a group's are read each time (another node may have changed them).
    pub async fn members(&self, conversation_id: &ConversationId) -> StoreResult<Option<Members>> {
        if let Some(members) = self.members_cache.get(conversation_id) {
            return Ok(Some(members));
        }
        let row: Option<(String, Option<UserId>, Option<UserId>)> =
            sqlx::query_as("SELECT kind, user_a, user_b FROM conversations WHERE id = $1")
                .bind(conversation_id)
                .fetch_optional(self.reader())
                .await?;
        let members = match row {
            None => return Ok(None),
            Some((kind, _, _)) if kind == "group" => {
                let ids = sqlx::query_scalar(
                    "SELECT user_id FROM conversation_members WHERE conversation_id = $1 \
                     ORDER BY joined_rev, joined_at, user_id",
                )
                .bind(conversation_id)
                .fetch_all(self.reader())
                .await?;
                return Ok(Some(Members::group(ids)));
            }
            Some((kind, a, b)) => members_of(&kind, a, b),
        };
        self.members_cache.insert(conversation_id, members.clone());
        Ok(Some(members))
    }

    /// The seq of the conversation's newest message (0 when it has none).
    pub async fn last_seq(&self, conversation_id: &ConversationId) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT last_seq FROM conversations WHERE id = $1")
                .bind(conversation_id)
                .fetch_optional(self.reader())
                .await?
                .unwrap_or(0),
        )
    }

    /// Moves the user's read mark forward to `seq` (never back); returns the mark
    /// now stored and whether it moved. A mark that would not move writes nothing.
    pub async fn mark_read(
        &self,
        conversation_id: &ConversationId,
        user_id: &UserId,
        seq: Seq,
    ) -> StoreResult<(i64, bool)> {
        let moved: Option<i64> = sqlx::query_scalar(MOVE_READ_MARK)
            .bind(conversation_id)
            .bind(user_id)
            .bind(seq.get())
            .fetch_optional(self.writer())
            .await?;
        if let Some(now) = moved {
            return Ok((now, true));
        }
        let stored = sqlx::query_scalar(
            "SELECT last_read_seq FROM read_marks WHERE conversation_id = $1 AND user_id = $2",
        )
        .bind(conversation_id)
        .bind(user_id)
        .fetch_one(self.writer())
        .await?;
        Ok((stored, false))
    }
}

/// What follows the `VALUES` of an insert into `read_marks` so that a mark
/// only ever moves forward.
macro_rules! raise_read_mark {
    () => {
        " ON CONFLICT (conversation_id, user_id) DO UPDATE SET last_read_seq = \
         CASE WHEN excluded.last_read_seq > read_marks.last_read_seq \
         THEN excluded.last_read_seq ELSE read_marks.last_read_seq END"
    };
}

/// Shared with the message writer, which moves the sender's mark with each send.
pub(crate) const UPSERT_READ_MARK: &str = concat!(
    "INSERT INTO read_marks (conversation_id, user_id, last_read_seq) VALUES ($1, $2, $3)",
    raise_read_mark!(),
    " RETURNING last_read_seq"
);

/// [`raise_read_mark`] for the writer, which inserts a batch's marks in one statement.
pub(crate) const RAISE_READ_MARK: &str = raise_read_mark!();

/// Like [`UPSERT_READ_MARK`], but answers no row when the mark would not move.
const MOVE_READ_MARK: &str = "\
INSERT INTO read_marks (conversation_id, user_id, last_read_seq) VALUES ($1, $2, $3)
ON CONFLICT (conversation_id, user_id) DO UPDATE SET last_read_seq = excluded.last_read_seq
  WHERE excluded.last_read_seq > read_marks.last_read_seq
RETURNING last_read_seq";

fn members_of(kind: &str, a: Option<UserId>, b: Option<UserId>) -> Members {
    match (kind, a, b) {
        ("direct", Some(a), Some(b)) => Members::Pair(a, b),
        _ => Members::Everyone,
    }
}

/// Memoised memberships. Bounded: past `CAPACITY` entries it starts over, which
/// costs a query per conversation again, never a wrong answer.
#[derive(Default)]
pub struct MembersCache {
    entries: RwLock<HashMap<ConversationId, Members>>,
}

impl MembersCache {
    const CAPACITY: usize = 200_000;

    fn get(&self, conversation_id: &ConversationId) -> Option<Members> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.get(conversation_id).cloned()
    }

    fn insert(&self, conversation_id: &ConversationId, members: Members) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= Self::CAPACITY {
            entries.clear();
        }
        entries.insert(conversation_id.clone(), members);
    }
}
