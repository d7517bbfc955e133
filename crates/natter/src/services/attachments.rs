//! Attachments: taking an upload (streamed to a file, sniffed, previewed),
//! deciding who may fetch one, and removing the bytes of deleted messages and
//! of uploads never sent.

use std::path::PathBuf;

use axum::extract::multipart::{Field, MultipartError};
use tokio::io::AsyncWriteExt;

use super::conversations::membership;
use super::images;
use super::rate_limits::Action;
use super::sessions::AuthUser;
use crate::contract::Attachment;
use crate::domain::{AttachmentId, ConversationId, now_ms};
use crate::error::{AppError, AppResult};
use crate::state::Ctx;
use crate::store::attachments::{AttachmentRow, NewUpload};

/// The longest stored file name, in characters.
const MAX_NAME_CHARS: usize = 255;
/// Enough leading bytes to recognise every image format we preview.
const SNIFF_BYTES: usize = 64;
/// At most this many expired uploads are swept per run.
const SWEEP_BATCH: i64 = 500;
pub const OCTET_STREAM: &str = "application/octet-stream";

/// Stores the multipart field `file` of the caller's upload. The body streams
/// to a file in the data directory piece by piece, so memory stays flat
/// whatever the size; over `NATTER_MAX_UPLOAD` it stops at once with 413.
pub async fn upload(ctx: &Ctx, user: &AuthUser, field: Field<'_>) -> AppResult<Attachment> {
    ctx.limits.check(Action::Send, &user.id)?;
    let name = file_name(field.file_name());
    let incoming = Incoming(
        ctx.blobs
            .incoming_dir()
            .join(AttachmentId::generate().as_str()),
    );
    let (size, head) = receive(field, &incoming.0, ctx.config.max_upload).await?;
    if size == 0 {
        return Err(AppError::invalid("empty_file", "the file is empty"));
    }
    let format = images::sniff(&head);
    let preview = match format {
        Some(format) => {
            let path = incoming.0.clone();
            Some(
                ctx.cpu
                    .run(move || images::thumbnail(&path, format))
                    .await??,
            )
        }
        None => None,
    };
    let id = AttachmentId::generate();
    let dimensions = preview.as_ref().map(|p| (p.width, p.height));
    ctx.blobs
        .put_file(&id, &incoming.0)
        .await
        .map_err(AppError::Internal)?;
    if let Some(preview) = preview {
        ctx.blobs
            .put_thumb(&id, preview.webp)
            .await
            .map_err(AppError::Internal)?;
    }
    let stored = ctx
        .store
        .insert_upload(NewUpload {
            id: &id,
            uploader_id: &user.id,
            name: &name,
            content_type: format.map_or(OCTET_STREAM, images::mime),
            size: size as i64,
            dimensions,
            has_thumb: dimensions.is_some(),
            created_at: now_ms(),
        })
        .await;
    match stored {
        Ok(row) => Ok(row.to_contract()),
        Err(e) => {
            let _ = ctx.blobs.remove(&id).await;
            Err(e.into())
        }
    }
}

/// A file in the incoming directory, removed when dropped unless it was moved
/// into storage (then the removal finds nothing).
struct Incoming(PathBuf);

impl Drop for Incoming {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Writes the field to `path`; answers its size and first bytes.
async fn receive(
    mut field: Field<'_>,
    path: &std::path::Path,
    limit: u64,
) -> AppResult<(u64, Vec<u8>)> {
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let mut size = 0u64;
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    while let Some(piece) = field
        .chunk()
        .await
        .map_err(multipart_error(|| too_large(limit)))?
    {
        size += piece.len() as u64;
        if size > limit {
            return Err(too_large(limit));
        }
        if head.len() < SNIFF_BYTES {
            let take = (SNIFF_BYTES - head.len()).min(piece.len());
            head.extend_from_slice(&piece[..take]);
        }
        file.write_all(&piece)
            .await
            .map_err(|e| AppError::Internal(e.into()))?;
    }
    file.sync_all()
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok((size, head))
}

pub fn too_large(limit: u64) -> AppError {
    AppError::too_large(
        format!(
            "the file is too large: at most {} bytes ({:.1} MiB) are accepted",
            limit,
            limit as f64 / (1024.0 * 1024.0)
        ),
        Some(limit),
    )
}

/// Maps a multipart stream's error, for files and pictures alike: a body past
/// its cap answers `too_large()`, anything else is malformed.
pub fn multipart_error(too_large: impl Fn() -> AppError) -> impl Fn(MultipartError) -> AppError {
    move |e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            AppError::bad_request("invalid_multipart", e.body_text())
        }
    }
}

/// The name to show and to offer on download: the last path component, no
/// control characters, at most 255 characters; `file` when nothing is left.
fn file_name(raw: Option<&str>) -> String {
    let base = raw
        .unwrap_or_default()
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default();
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    let clean = clean.trim();
    if clean.is_empty() || clean == "." || clean == ".." {
        "file".to_owned()
    } else {
        clean.to_owned()
    }
}

/// The attachment, if the caller may fetch it: its uploader, or a member of
/// the conversation of the message it was sent with. Everyone else, and
/// everyone once the message is deleted (the row is gone), gets 404.
pub async fn visible(ctx: &Ctx, user: &AuthUser, id: &str) -> AppResult<AttachmentRow> {
    let id = AttachmentId::parse(id)?;
    let row = ctx
        .store
        .attachment(&id)
        .await?
        .ok_or(AppError::NotFound("attachment"))?;
    if row.uploader_id == user.id {
        return Ok(row);
    }
    let Some(conversation_id) = row.conversation_id.as_ref() else {
        return Err(AppError::NotFound("attachment"));
    };
    membership(ctx, &user.id, conversation_id)
        .await
        .map_err(|_| AppError::NotFound("attachment"))?;
    Ok(row)
}

/// Removes the bytes of attachments whose rows a delete has just removed.
pub async fn remove_bytes(ctx: &Ctx, ids: &[AttachmentId]) {
    for id in ids {
        if let Err(e) = ctx.blobs.remove(id).await {
            tracing::warn!("removing the bytes of attachment {id}: {e:#}");
        }
    }
}

/// The ids of message `seq`'s attachments, read before a delete.
pub async fn of_message(
    ctx: &Ctx,
    conversation_id: &ConversationId,
    seq: i64,
) -> AppResult<Vec<AttachmentId>> {
    Ok(ctx.store.attachment_ids_of(conversation_id, seq).await?)
}

/// Removes uploads older than `NATTER_UPLOAD_TTL_SECS` that were never sent.
pub async fn sweep(ctx: &Ctx) {
    let ttl_ms = i64::try_from(ctx.config.upload_ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let cutoff = now_ms().saturating_sub(ttl_ms);
    match ctx.store.sweep_unattached(cutoff, SWEEP_BATCH).await {
        Ok(swept) if !swept.is_empty() => {
            tracing::info!(count = swept.len(), "unused uploads removed");
            remove_bytes(ctx, &swept).await;
        }
        Ok(_) => {}
        Err(e) => tracing::warn!("sweeping unused uploads: {e}"),
    }
}
