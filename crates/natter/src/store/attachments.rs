//! Attachment rows: an upload, until a send attaches it to its message in the
//! send's transaction; gone with the message's delete or, never attached, with
//! the sweep. The bytes live elsewhere ([`super::blobs`]).

use std::collections::HashMap;

use sqlx::{AnyConnection, FromRow};

use super::read::{Bind, FetchRows};
use super::writer::Refusal;
use super::{Store, StoreResult};
use crate::contract::Attachment;
use crate::domain::{AttachmentId, ConversationId, UserId};

/// A stored upload, attached (`conversation_id`, `seq`) or not.
#[derive(Debug, Clone, FromRow)]
pub struct AttachmentRow {
    pub id: AttachmentId,
    pub uploader_id: UserId,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub has_thumb: i64,
    pub conversation_id: Option<ConversationId>,
    pub seq: Option<i64>,
}

const COLUMNS: &str = "id, uploader_id, name, content_type, size, width, height, has_thumb, \
                       conversation_id, seq";

impl AttachmentRow {
    pub fn to_contract(&self) -> Attachment {
        let url = format!("/api/attachments/{}", self.id);
        Attachment {
            id: self.id.clone(),
            name: self.name.clone(),
            content_type: self.content_type.clone(),
            size: self.size,
            width: self.width,
            height: self.height,
            thumb_url: (self.has_thumb != 0).then(|| format!("{url}/thumb")),
            url,
        }
    }
}

/// The attachments of the given messages, each list in the order sent.
pub(crate) async fn attachments_of<C: FetchRows>(
    conn: &mut C,
    conversation_id: &ConversationId,
    seq_list: &str,
) -> Result<HashMap<i64, Vec<Attachment>>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM attachments WHERE conversation_id = $1 AND seq IN ({seq_list}) \
         ORDER BY seq, position"
    );
    let rows: Vec<AttachmentRow> = conn
        .fetch_rows(&sql, &[Bind::Text(conversation_id.as_str())])
        .await?;
    let mut by_seq: HashMap<i64, Vec<Attachment>> = HashMap::new();
    for row in rows {
        if let Some(seq) = row.seq {
            by_seq.entry(seq).or_default().push(row.to_contract());
        }
    }
    Ok(by_seq)
}

/// Puts the sender's unused uploads on message `seq`, in the order given; or,
/// when one is not theirs or already used, attaches none and says why. The
/// `seq IS NULL` test is made under the row's lock, so two sends racing for one
/// upload on different nodes cannot both have it.
pub(crate) async fn attach(
    conn: &mut AnyConnection,
    conversation_id: &ConversationId,
    seq: i64,
    sender_id: &UserId,
    ids: &[AttachmentId],
) -> Result<Result<(), Refusal>, sqlx::Error> {
    for (position, id) in ids.iter().enumerate() {
        let taken = sqlx::query(
            "UPDATE attachments SET conversation_id = $2, seq = $3, position = $4 \
             WHERE id = $1 AND uploader_id = $5 AND seq IS NULL",
        )
        .bind(id)
        .bind(conversation_id)
        .bind(seq)
        .bind(position as i64)
        .bind(sender_id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if taken == 0 {
            sqlx::query(
                "UPDATE attachments SET conversation_id = NULL, seq = NULL, position = NULL \
                 WHERE conversation_id = $1 AND seq = $2",
            )
            .bind(conversation_id)
            .bind(seq)
            .execute(&mut *conn)
            .await?;
            let owner: Option<UserId> =
                sqlx::query_scalar("SELECT uploader_id FROM attachments WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?;
            return Ok(Err(if owner.as_ref() == Some(sender_id) {
                Refusal::AttachmentUsed
            } else {
                Refusal::InvalidAttachment
            }));
        }
    }
    Ok(Ok(()))
}

/// Removes the attachments of a deleted message, with any bytes kept in the
/// database; returns their ids so that bytes kept in files go too.
pub(crate) async fn remove_of_message(
    conn: &mut AnyConnection,
    conversation_id: &ConversationId,
    seq: i64,
) -> Result<Vec<AttachmentId>, sqlx::Error> {
    let ids: Vec<AttachmentId> =
        sqlx::query_scalar("SELECT id FROM attachments WHERE conversation_id = $1 AND seq = $2")
            .bind(conversation_id)
            .bind(seq)
            .fetch_all(&mut *conn)
            .await?;
    for id in &ids {
        remove(conn, id).await?;
    }
    Ok(ids)
}

async fn remove(conn: &mut AnyConnection, id: &AttachmentId) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM attachment_chunks WHERE attachment_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM attachments WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// What an upload row holds when it is first stored.
pub struct NewUpload<'a> {
    pub id: &'a AttachmentId,
    pub uploader_id: &'a UserId,
    pub name: &'a str,
    pub content_type: &'a str,
    pub size: i64,
    pub dimensions: Option<(u32, u32)>,
    pub has_thumb: bool,
    pub created_at: i64,
}

impl Store {
    pub async fn insert_upload(&self, upload: NewUpload<'_>) -> StoreResult<AttachmentRow> {
        let sql = format!(
            "INSERT INTO attachments (id, uploader_id, name, content_type, size, width, height, \
             has_thumb, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLUMNS}"
        );
        Ok(sqlx::query_as(&sql)
            .bind(upload.id)
            .bind(upload.uploader_id)
            .bind(upload.name)
            .bind(upload.content_type)
            .bind(upload.size)
            .bind(upload.dimensions.map(|(w, _)| i64::from(w)))
            .bind(upload.dimensions.map(|(_, h)| i64::from(h)))
            .bind(i64::from(upload.has_thumb))
            .bind(upload.created_at)
            .fetch_one(self.writer())
            .await?)
    }

    pub async fn attachment(&self, id: &AttachmentId) -> StoreResult<Option<AttachmentRow>> {
        let sql = format!("SELECT {COLUMNS} FROM attachments WHERE id = $1");
        Ok(sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(self.reader())
            .await?)
    }

    /// The ids of the attachments of message `seq` (before a delete removes them).
    pub async fn attachment_ids_of(
        &self,
        conversation_id: &ConversationId,
        seq: i64,
    ) -> StoreResult<Vec<AttachmentId>> {
        Ok(
            sqlx::query_scalar(
                "SELECT id FROM attachments WHERE conversation_id = $1 AND seq = $2",
            )
            .bind(conversation_id)
            .bind(seq)
            .fetch_all(self.reader())
            .await?,
        )
    }

    /// Removes up to `limit` uploads stored before `cutoff` and never attached;
    /// returns their ids.
    pub async fn sweep_unattached(
        &self,
        cutoff: i64,
        limit: i64,
    ) -> StoreResult<Vec<AttachmentId>> {
        let ids: Vec<AttachmentId> = sqlx::query_scalar(
            "SELECT id FROM attachments WHERE seq IS NULL AND created_at < $1 LIMIT $2",
        )
        .bind(cutoff)
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        let mut swept = Vec::with_capacity(ids.len());
        for id in ids {
            let mut tx = self.writer().begin().await?;
            // Only if still unused: a send may have taken it since it was listed.
            let gone: Option<AttachmentId> = sqlx::query_scalar(
                "DELETE FROM attachments WHERE id = $1 AND seq IS NULL RETURNING id",
            )
            .bind(&id)
            .fetch_optional(&mut *tx)
            .await?;
            if gone.is_some() {
                sqlx::query("DELETE FROM attachment_chunks WHERE attachment_id = $1")
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                swept.push(id);
            }
            tx.commit().await?;
        }
        Ok(swept)
    }
}
