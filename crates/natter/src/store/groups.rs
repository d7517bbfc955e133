//! Group conversations: creating one, its members, and the changes a writer
//! lane applies to it (rename, add, remove or leave). Each change is a system
//! message with its own seq and rev, written in the same transaction.

use sqlx::{AnyConnection, FromRow};

use super::changes::{NewMessage, bump, current_members, insert_message};
use super::conversations::Members;
use super::messages::message_at;
use super::users::UserRow;
use super::writer::{Applied, Refusal};
use super::{Store, StoreResult};
use crate::contract::{Message, SystemAction, SystemInfo};
use crate::domain::group::GROUP_MAX_MEMBERS;
use crate::domain::{ConversationId, GroupTitle, MessageId, UserId};

/// A change to an existing group by `actor`, a member.
#[derive(Debug, Clone)]
pub enum GroupChange {
    Rename {
        conversation_id: ConversationId,
        actor: UserId,
        title: GroupTitle,
    },
    /// Already-members are ignored; the service checked that every id exists.
    Add {
        conversation_id: ConversationId,
        actor: UserId,
        user_ids: Vec<UserId>,
    },
    /// `target == actor` is leaving; removing anyone else is the owner's.
    Remove {
        conversation_id: ConversationId,
        actor: UserId,
        target: UserId,
    },
}

impl GroupChange {
    pub fn conversation_id(&self) -> &ConversationId {
        match self {
            Self::Rename {
                conversation_id, ..
            }
            | Self::Add {
                conversation_id, ..
            }
            | Self::Remove {
                conversation_id, ..
            } => conversation_id,
        }
    }

    fn actor(&self) -> &UserId {
        match self {
            Self::Rename { actor, .. } | Self::Add { actor, .. } | Self::Remove { actor, .. } => {
                actor
            }
        }
    }
}

/// A member as `GET …/members` lists them.
#[derive(Debug, FromRow)]
pub struct MemberRow {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub status_message: String,
    pub avatar_id: Option<String>,
    pub last_seen_at: Option<i64>,
    pub last_read_seq: i64,
    pub joined_at: i64,
}

impl MemberRow {
    pub fn user(&self) -> UserRow {
        UserRow {
            id: self.id.clone(),
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            status_message: self.status_message.clone(),
            avatar_id: self.avatar_id.clone(),
            last_seen_at: self.last_seen_at,
        }
    }
}

pub struct NewGroup<'a> {
    pub id: &'a ConversationId,
    pub message_id: &'a MessageId,
    pub owner: &'a UserId,
    pub title: &'a GroupTitle,
    /// The other initial members, without the owner.
    pub others: &'a [UserId],
    pub now: i64,
}

impl Store {
    /// Creates a group with its `created` system message (seq 1, rev 1) and
    /// returns that message.
    pub async fn create_group(&self, group: NewGroup<'_>) -> StoreResult<Message> {
        let mut tx = self.writer().begin().await?;
        sqlx::query(
            "INSERT INTO conversations (id, kind, title, owner_id, last_seq, last_rev, \
             last_activity_at, created_at) VALUES ($1, 'group', $2, $3, 0, 0, $4, $4)",
        )
        .bind(group.id)
        .bind(group.title.as_str())
        .bind(group.owner)
        .bind(group.now)
        .execute(&mut *tx)
        .await?;
        let (seq, rev) = bump(&mut tx, group.id, 1, 1, group.now)
            .await?
            .ok_or(sqlx::Error::RowNotFound)?;
        let everyone: Vec<UserId> = std::iter::once(group.owner)
            .chain(group.others)
            .cloned()
            .collect();
        add_members(&mut tx, group.id, &everyone, rev, group.now).await?;
        let system = SystemInfo {
            action: SystemAction::Created,
            actor_id: group.owner.clone(),
            user_ids: Some(group.others.to_vec()),
            title: Some(group.title.as_str().to_owned()),
        };
        let message = system_message(
            &mut tx,
            group.id,
            group.message_id,
            seq,
            rev,
            &system,
            group.now,
        )
        .await?;
        sqlx::query(super::conversations::UPSERT_READ_MARK)
            .bind(group.id)
            .bind(group.owner)
            .bind(seq)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(message)
    }

    /// The members of a conversation with their read marks, longest-standing first.
    pub async fn member_list(
        &self,
        conversation_id: &ConversationId,
    ) -> StoreResult<Vec<MemberRow>> {
        Ok(sqlx::query_as(
            "SELECT u.id, u.username, u.display_name, u.status_message, u.avatar_id, \
             u.last_seen_at, COALESCE(r.last_read_seq, 0) AS last_read_seq, cm.joined_at \
             FROM conversation_members cm JOIN users u ON u.id = cm.user_id \
             LEFT JOIN read_marks r ON r.conversation_id = cm.conversation_id AND r.user_id = cm.user_id \
             WHERE cm.conversation_id = $1 ORDER BY cm.joined_rev, cm.joined_at, cm.user_id",
        )
        .bind(conversation_id)
        .fetch_all(self.reader())
        .await?)
    }

    /// How many of `ids` are users.
    pub async fn count_users(&self, ids: &[UserId]) -> StoreResult<usize> {
        let mut found = 0;
        for id in ids {
            if self.user_by_id(id).await?.is_some() {
                found += 1;
            }
        }
        Ok(found)
    }
}

async fn add_members(
    conn: &mut AnyConnection,
    conversation_id: &ConversationId,
    user_ids: &[UserId],
    rev: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    for (place, user_id) in (0_i64..).zip(user_ids) {
        sqlx::query(
            "INSERT INTO conversation_members (conversation_id, user_id, joined_at, joined_rev) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (conversation_id, user_id) DO NOTHING",
        )
        .bind(conversation_id)
        .bind(user_id)
        .bind(now)
        .bind(rev * GROUP_MAX_MEMBERS as i64 + place)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn system_message(
    conn: &mut AnyConnection,
    conversation_id: &ConversationId,
    id: &MessageId,
    seq: i64,
    rev: i64,
    system: &SystemInfo,
    now: i64,
) -> Result<Message, sqlx::Error> {
    // A system message's clientId is its own id: unique, and never a client's.
    let client_id = format!("system:{id}");
    insert_message(
        conn,
        NewMessage {
            conversation_id,
            id,
            seq,
            rev,
            sender_id: &system.actor_id,
            msg: "",
            client_id: &client_id,
            system: Some(system),
            reply_to: None,
            has_attachments: false,
            now,
        },
    )
    .await?;
    message_at(conn, conversation_id, seq)
        .await?
        .ok_or(sqlx::Error::RowNotFound)
}

/// Applies a group change under the conversation's counter lock. The members
/// returned are who hears of it: everyone who was a member before or is one
/// after (a removed member gets the system message that removes them, and
/// nothing after it).
pub(crate) async fn apply(
    conn: &mut AnyConnection,
    id: &MessageId,
    change: &GroupChange,
    now: i64,
) -> Result<Result<(Applied, Members), Refusal>, sqlx::Error> {
    let conversation_id = change.conversation_id();
    if bump(conn, conversation_id, 0, 0, now).await?.is_none() {
        return Ok(Err(Refusal::NotFound("conversation")));
    }
    let (kind, owner) = kind_and_owner(conn, conversation_id).await?;
    let before = current_members(conn, conversation_id, &Members::group(Vec::new())).await?;
    let Members::Group(ids) = &before else {
        unreachable!("current_members of a group")
    };
    if kind != "group" {
        let member = kind == "lobby" || ids.contains(change.actor());
        return Ok(Err(if member {
            Refusal::NotAGroup
        } else {
            Refusal::NotFound("conversation")
        }));
    }
    if !ids.contains(change.actor()) {
        return Ok(Err(Refusal::NotFound("conversation")));
    }
    let (system, joined, left) = match change {
        GroupChange::Rename { actor, title, .. } => {
            sqlx::query("UPDATE conversations SET title = $2 WHERE id = $1")
                .bind(conversation_id)
                .bind(title.as_str())
                .execute(&mut *conn)
                .await?;
            let system = SystemInfo {
                action: SystemAction::TitleChanged,
                actor_id: actor.clone(),
                user_ids: None,
                title: Some(title.as_str().to_owned()),
            };
            (system, vec![], vec![])
        }
        GroupChange::Add {
            actor, user_ids, ..
        } => {
            let new: Vec<UserId> = user_ids
                .iter()
                .filter(|id| !ids.contains(id))
                .cloned()
                .collect();
            if new.is_empty() {
                return Ok(Ok((unchanged(), before)));
            }
            if ids.len() + new.len() > GROUP_MAX_MEMBERS {
                return Ok(Err(Refusal::TooManyMembers));
            }
            let system = SystemInfo {
                action: SystemAction::MembersAdded,
                actor_id: actor.clone(),
                user_ids: Some(new.clone()),
                title: None,
            };
            (system, new, vec![])
        }
        GroupChange::Remove { actor, target, .. } => {
            if !ids.contains(target) {
                return Ok(Err(Refusal::NotFound("member")));
            }
            if target != actor && owner.as_ref() != Some(actor) {
                return Ok(Err(Refusal::NotOwner));
            }
            sqlx::query(
                "DELETE FROM conversation_members WHERE conversation_id = $1 AND user_id = $2",
            )
            .bind(conversation_id)
            .bind(target)
            .execute(&mut *conn)
            .await?;
            if owner.as_ref() == Some(target) {
                // Members are in order of seniority: the next one takes over.
                let heir = ids.iter().find(|id| *id != target);
                sqlx::query("UPDATE conversations SET owner_id = $2 WHERE id = $1")
                    .bind(conversation_id)
                    .bind(heir)
                    .execute(&mut *conn)
                    .await?;
            }
            let system = if target == actor {
                SystemInfo {
                    action: SystemAction::MemberLeft,
                    actor_id: actor.clone(),
                    user_ids: None,
                    title: None,
                }
            } else {
                SystemInfo {
                    action: SystemAction::MemberRemoved,
                    actor_id: actor.clone(),
                    user_ids: Some(vec![target.clone()]),
                    title: None,
                }
            };
            (system, vec![], vec![target.clone()])
        }
    };
    let (seq, rev) = bump(conn, conversation_id, 1, 1, now)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    add_members(conn, conversation_id, &joined, rev, now).await?;
    let message = system_message(conn, conversation_id, id, seq, rev, &system, now).await?;
    let audience: Vec<UserId> = ids.iter().chain(&joined).cloned().collect();
    let applied = Applied::Group {
        message: Some(message),
        joined,
        left,
    };
    Ok(Ok((applied, Members::group(audience))))
}

fn unchanged() -> Applied {
    Applied::Group {
        message: None,
        joined: vec![],
        left: vec![],
    }
}

async fn kind_and_owner(
    conn: &mut AnyConnection,
    conversation_id: &ConversationId,
) -> Result<(String, Option<UserId>), sqlx::Error> {
    sqlx::query_as("SELECT kind, owner_id FROM conversations WHERE id = $1")
        .bind(conversation_id)
        .fetch_one(&mut *conn)
        .await
}
