//! Blocks between users: who blocked whom, and the lookups that enforce them.

use super::users::{USER_COLUMNS, UserRow};
use super::{Store, StoreResult};
use crate::domain::{Millis, UserId};

impl Store {
    /// Records that `blocker` blocks `blocked`; blocking twice changes nothing.
    pub async fn block(&self, blocker: &UserId, blocked: &UserId, at: Millis) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (blocker_id, blocked_id) DO NOTHING",
        )
        .bind(blocker)
        .bind(blocked)
        .bind(at)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    pub async fn unblock(&self, blocker: &UserId, blocked: &UserId) -> StoreResult<()> {
        sqlx::query("DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2")
            .bind(blocker)
            .bind(blocked)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// The users `blocker` blocks, the latest first.
    pub async fn blocked_by(&self, blocker: &UserId) -> StoreResult<Vec<UserRow>> {
        let columns = USER_COLUMNS
            .split(", ")
            .map(|column| format!("u.{column}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {columns} FROM blocks b JOIN users u ON u.id = b.blocked_id \
             WHERE b.blocker_id = $1 ORDER BY b.created_at DESC, u.username"
        );
        Ok(sqlx::query_as(&sql)
            .bind(blocker)
            .fetch_all(self.reader())
            .await?)
    }

    /// Whether either of the two blocks the other.
    pub async fn blocked_between(&self, a: &UserId, b: &UserId) -> StoreResult<bool> {
        Ok(pair_blocked(self.reader(), a, b).await?)
    }

    /// The users who block `blocked`: they get none of its typing.
    pub async fn blockers_of(&self, blocked: &UserId) -> StoreResult<Vec<UserId>> {
        Ok(
            sqlx::query_scalar("SELECT blocker_id FROM blocks WHERE blocked_id = $1")
                .bind(blocked)
                .fetch_all(self.reader())
                .await?,
        )
    }
}

/// Whether either of the two blocks the other, on a pool or inside a
/// transaction (the writer checks a send to a direct chat under the counter's lock).
pub(crate) async fn pair_blocked<'e, E>(executor: E, a: &UserId, b: &UserId) -> sqlx::Result<bool>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let found: Option<UserId> = sqlx::query_scalar(
        "SELECT blocker_id FROM blocks WHERE (blocker_id = $1 AND blocked_id = $2) \
         OR (blocker_id = $2 AND blocked_id = $1) LIMIT 1",
    )
    .bind(a)
    .bind(b)
    .fetch_optional(executor)
    .await?;
    Ok(found.is_some())
}
