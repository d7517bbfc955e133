//! Profile pictures, stored in the database so every node of a cluster can serve
//! them. Each upload gets a new id, which is also its URL: a replaced picture's
//! old URL stops resolving, and a live one can be cached forever.

use super::users::{USER_COLUMNS, UserRow};
use super::{Store, StoreResult};
use crate::domain::{AvatarId, UserId};

pub struct NewAvatar<'a> {
    pub id: &'a AvatarId,
    pub user_id: &'a UserId,
    pub content_type: &'a str,
    pub large: &'a [u8],
    pub small: &'a [u8],
    pub created_at: i64,
}

impl Store {
    /// Stores the picture, makes it the user's, and drops the one it replaces.
    /// `None` when the user does not exist (any more).
    pub async fn replace_avatar(&self, avatar: NewAvatar<'_>) -> StoreResult<Option<UserRow>> {
        let mut tx = self.writer().begin().await?;
        sqlx::query("DELETE FROM avatars WHERE user_id = $1")
            .bind(avatar.user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO avatars (id, user_id, content_type, large, small, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(avatar.id)
        .bind(avatar.user_id)
        .bind(avatar.content_type)
        .bind(avatar.large.to_vec())
        .bind(avatar.small.to_vec())
        .bind(avatar.created_at)
        .execute(&mut *tx)
        .await?;
        let user = set_avatar_id(&mut tx, avatar.user_id, Some(avatar.id.as_str())).await?;
        tx.commit().await?;
        Ok(user)
    }

    pub async fn remove_avatar(&self, user_id: &UserId) -> StoreResult<Option<UserRow>> {
        let mut tx = self.writer().begin().await?;
        sqlx::query("DELETE FROM avatars WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let user = set_avatar_id(&mut tx, user_id, None).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// The content type and bytes of a stored picture, large or small.
    pub async fn avatar_image(
        &self,
        id: &AvatarId,
        small: bool,
    ) -> StoreResult<Option<(String, Vec<u8>)>> {
        let sql = if small {
            "SELECT content_type, small FROM avatars WHERE id = $1"
        } else {
            "SELECT content_type, large FROM avatars WHERE id = $1"
        };
        Ok(sqlx::query_as(sql)
            .bind(id)
            .fetch_optional(self.reader())
            .await?)
    }
}

async fn set_avatar_id(
    conn: &mut sqlx::AnyConnection,
    user_id: &UserId,
    avatar_id: Option<&str>,
) -> StoreResult<Option<UserRow>> {
    let sql = format!("UPDATE users SET avatar_id = $2 WHERE id = $1 RETURNING {USER_COLUMNS}");
    Ok(sqlx::query_as(&sql)
        .bind(user_id)
        .bind(avatar_id)
        .fetch_optional(conn)
        .await?)
}
