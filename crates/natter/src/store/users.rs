//! Users and their sessions.

use sqlx::FromRow;

use super::{Store, StoreResult};
use crate::domain::{DisplayName, Millis, StatusMessage, UserId, Username};

/// A user as stored; `online` is not stored but comes from live sockets.
#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub status_message: String,
    pub avatar_id: Option<String>,
    pub last_seen_at: Option<i64>,
}

pub(crate) const USER_COLUMNS: &str =
    "id, username, display_name, status_message, avatar_id, last_seen_at";

pub struct NewUser<'a> {
    pub id: &'a UserId,
    pub username: &'a Username,
    pub display_name: &'a DisplayName,
    pub password_hash: &'a str,
    pub created_at: Millis,
}

/// One page of the directory, in username order.
pub struct DirectoryQuery<'a> {
    pub exclude_id: &'a UserId,
    pub search: &'a str,
    pub after_username: &'a str,
    pub limit: i64,
}

impl Store {
    /// Inserts a user; a taken username is a `Duplicate`.
    pub async fn insert_user(&self, user: NewUser<'_>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO users (id, username, display_name, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(user.id)
        .bind(user.username.as_str())
        .bind(user.display_name.as_str())
        .bind(user.password_hash)
        .bind(user.created_at)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    pub async fn user_by_id(&self, id: &UserId) -> StoreResult<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        Ok(sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(self.reader())
            .await?)
    }

    /// The user and their password hash, for sign-in.
    pub async fn user_credentials(
        &self,
        username: &Username,
    ) -> StoreResult<Option<(UserRow, String)>> {
        let sql = format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = $1");
        let found: Option<UserRowWithHash> = sqlx::query_as(&sql)
            .bind(username.as_str())
            .fetch_optional(self.reader())
            .await?;
        Ok(found.map(|r| (r.user, r.password_hash)))
    }

    pub async fn password_hash(&self, user_id: &UserId) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(self.reader())
                .await?,
        )
    }

    /// Changes the fields that are `Some`, and returns the user as now stored.
    pub async fn update_profile(
        &self,
        user_id: &UserId,
        display_name: Option<&DisplayName>,
        status_message: Option<&StatusMessage>,
    ) -> StoreResult<Option<UserRow>> {
        let sql = format!(
            "UPDATE users SET display_name = COALESCE($2, display_name), \
             status_message = COALESCE($3, status_message) WHERE id = $1 RETURNING {USER_COLUMNS}"
        );
        Ok(sqlx::query_as(&sql)
            .bind(user_id)
            .bind(display_name.map(DisplayName::as_str))
            .bind(status_message.map(StatusMessage::as_str))
            .fetch_optional(self.writer())
            .await?)
    }

    pub async fn set_last_seen(&self, user_id: &UserId, at: Option<Millis>) -> StoreResult<()> {
        sqlx::query("UPDATE users SET last_seen_at = $2 WHERE id = $1")
            .bind(user_id)
            .bind(at)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Stores `at` as last seen unless a later time is stored already; true
    /// when it was stored (the user was not seen leaving since `at`).
    pub async fn set_last_seen_if_later(&self, user_id: &UserId, at: Millis) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE users SET last_seen_at = $2 \
             WHERE id = $1 AND (last_seen_at IS NULL OR last_seen_at < $2)",
        )
        .bind(user_id)
        .bind(at)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Users matching `search` (case-insensitive, on username or display name).
    pub async fn directory(&self, q: DirectoryQuery<'_>) -> StoreResult<Vec<UserRow>> {
        let pattern = format!("%{}%", escape_like(&q.search.to_lowercase()));
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id <> $1 AND username > $2 \
             AND ($3 = '%%' OR username LIKE $3 ESCAPE '\\' OR lower(display_name) LIKE $3 ESCAPE '\\') \
             ORDER BY username LIMIT $4"
        );
        Ok(sqlx::query_as(&sql)
            .bind(q.exclude_id)
            .bind(q.after_username)
            .bind(pattern)
            .bind(q.limit)
            .fetch_all(self.reader())
            .await?)
    }

    /// Starts a session if the user's password hash is still `password_hash`
    /// (the one just verified); false when it changed meanwhile. The no-op update
    /// locks the user row (PostgreSQL re-checks its condition after waiting for a
    /// concurrent change; SQLite has one writer), so a password change either
    /// commits first and this inserts nothing, or commits after and its
    /// [`Store::change_password`] deletes this session.
    pub async fn insert_session_if_password(
        &self,
        token_hash: &str,
        user_id: &UserId,
        password_hash: &str,
        now: Millis,
    ) -> StoreResult<bool> {
        let mut tx = self.writer().begin().await?;
        let locked = sqlx::query(
            "UPDATE users SET password_hash = password_hash WHERE id = $1 AND password_hash = $2",
        )
        .bind(user_id)
        .bind(password_hash)
        .execute(&mut *tx)
        .await?;
        if locked.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, last_used_at) \
             VALUES ($1, $2, $3, $3)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Replaces the password hash if it is still `old_hash` and ends every other
    /// session of the user, in one transaction; returns the ended sessions, or
    /// `None` when the hash had changed meanwhile.
    pub async fn change_password(
        &self,
        user_id: &UserId,
        old_hash: &str,
        new_hash: &str,
        keep_session: &str,
    ) -> StoreResult<Option<Vec<String>>> {
        let mut tx = self.writer().begin().await?;
        let changed =
            sqlx::query("UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2")
                .bind(user_id)
                .bind(old_hash)
                .bind(new_hash)
                .execute(&mut *tx)
                .await?;
        if changed.rows_affected() != 1 {
            return Ok(None);
        }
        let ended = sqlx::query_scalar(
            "DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2 RETURNING token_hash",
        )
        .bind(user_id)
        .bind(keep_session)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(ended))
    }

    /// The session's user and times, whether or not it has expired.
    pub async fn session_user(&self, token_hash: &str) -> StoreResult<Option<SessionRow>> {
        let sql = format!(
            "SELECT {USER_COLUMNS}, sessions.created_at AS session_created_at, \
             sessions.last_used_at AS session_last_used_at \
             FROM sessions JOIN users ON users.id = sessions.user_id WHERE sessions.token_hash = $1"
        );
        Ok(sqlx::query_as(&sql)
            .bind(token_hash)
            .fetch_optional(self.reader())
            .await?)
    }

    pub async fn touch_session(&self, token_hash: &str, now: Millis) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET last_used_at = $2 WHERE token_hash = $1")
            .bind(token_hash)
            .bind(now)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Ends the sessions unused since `idle_before` or started before
    /// `started_before`; returns the ended ones.
    pub async fn delete_expired_sessions(
        &self,
        idle_before: Millis,
        started_before: Millis,
    ) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "DELETE FROM sessions WHERE last_used_at < $1 OR created_at < $2 RETURNING token_hash",
        )
        .bind(idle_before)
        .bind(started_before)
        .fetch_all(self.writer())
        .await?)
    }

    /// Ends every session of the user; returns the ended ones.
    pub async fn delete_user_sessions(&self, user_id: &UserId) -> StoreResult<Vec<String>> {
        Ok(
            sqlx::query_scalar("DELETE FROM sessions WHERE user_id = $1 RETURNING token_hash")
                .bind(user_id)
                .fetch_all(self.writer())
                .await?,
        )
    }

    pub async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.writer())
            .await?;
        Ok(())
    }
}

/// A session's user, and when the session started and was last marked used.
#[derive(Debug, FromRow)]
pub struct SessionRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub session_created_at: Millis,
    pub session_last_used_at: Millis,
}

#[derive(FromRow)]
struct UserRowWithHash {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
}

/// Escapes LIKE wildcards so a search for `a_b` finds only `a_b`.
pub(crate) fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(super::escape_like("a_b%c\\"), "a\\_b\\%c\\\\");
    }
}
