//! Where attachment bytes live: files in the data directory on a single node
//! (SQLite), chunks in the database when it is PostgreSQL, so that every node
//! sharing it serves every attachment. [`BlobStore`] is the one interface; the
//! services never know which one runs.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream, StreamExt};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{Backend, Store};
use crate::domain::AttachmentId;

/// Database chunks and file reads both go in pieces of this size.
const CHUNK: u64 = 1024 * 1024;

/// The bytes of the half-open range `start..end` of a stored file.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

pub trait BlobStore: Send + Sync {
    /// Takes over the finished upload at `path` (a file in [`Blobs::incoming_dir`]).
    fn put_file<'a>(
        &'a self,
        id: &'a AttachmentId,
        path: &'a Path,
    ) -> BoxFuture<'a, anyhow::Result<()>>;
    fn put_thumb<'a>(
        &'a self,
        id: &'a AttachmentId,
        webp: Vec<u8>,
    ) -> BoxFuture<'a, anyhow::Result<()>>;
    fn read(&self, id: &AttachmentId, start: u64, end: u64) -> ByteStream;
    fn thumb<'a>(&'a self, id: &'a AttachmentId) -> BoxFuture<'a, anyhow::Result<Option<Vec<u8>>>>;
    /// Removes both the file and its preview; nothing to remove is fine.
    fn remove<'a>(&'a self, id: &'a AttachmentId) -> BoxFuture<'a, anyhow::Result<()>>;
}

/// The store in use, with the directory that uploads stream into first.
#[derive(Clone)]
pub struct Blobs {
    store: Arc<dyn BlobStore>,
    incoming: PathBuf,
}

impl Blobs {
    pub fn for_store(store: &Store, data_dir: &Path) -> anyhow::Result<Self> {
        let dir = data_dir.join("attachments");
        let incoming = dir.join("incoming");
        std::fs::create_dir_all(&incoming)?;
        // Left by a crash mid-upload: never anyone's.
        for entry in std::fs::read_dir(&incoming)?.flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
        let store: Arc<dyn BlobStore> = match store.backend {
            Backend::Sqlite => Arc::new(Files { dir }),
            Backend::Postgres => Arc::new(Chunks {
                store: store.clone(),
            }),
        };
        Ok(Self { store, incoming })
    }

    /// On the data directory's file system, so a finished upload moves by rename.
    pub fn incoming_dir(&self) -> &Path {
        &self.incoming
    }
}

impl std::ops::Deref for Blobs {
    type Target = dyn BlobStore;
    fn deref(&self) -> &Self::Target {
        &*self.store
    }
}

/// One file per attachment (`<id>`) and per preview (`<id>.thumb`).
struct Files {
    dir: PathBuf,
}

impl Files {
    fn path(&self, id: &AttachmentId, suffix: &str) -> PathBuf {
        // Ids are hex from `AttachmentId::generate`, checked again on parse.
        self.dir.join(format!("{id}{suffix}"))
    }
}

impl BlobStore for Files {
    fn put_file<'a>(
        &'a self,
        id: &'a AttachmentId,
        path: &'a Path,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move { Ok(tokio::fs::rename(path, self.path(id, "")).await?) })
    }

    fn put_thumb<'a>(
        &'a self,
        id: &'a AttachmentId,
        webp: Vec<u8>,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move { Ok(tokio::fs::write(self.path(id, ".thumb"), webp).await?) })
    }

    fn read(&self, id: &AttachmentId, start: u64, end: u64) -> ByteStream {
        let path = self.path(id, "");
        let opened = async move {
            let mut file = tokio::fs::File::open(path).await?;
            file.seek(SeekFrom::Start(start)).await?;
            Ok::<_, std::io::Error>(file)
        };
        stream::once(opened)
            .map(move |opened| match opened {
                Ok(file) => file_pieces(file, end - start).boxed(),
                Err(e) => stream::once(async { Err(e) }).boxed(),
            })
            .flatten()
            .boxed()
    }

    fn thumb<'a>(&'a self, id: &'a AttachmentId) -> BoxFuture<'a, anyhow::Result<Option<Vec<u8>>>> {
        Box::pin(async move {
            match tokio::fs::read(self.path(id, ".thumb")).await {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn remove<'a>(&'a self, id: &'a AttachmentId) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            for suffix in ["", ".thumb"] {
                match tokio::fs::remove_file(self.path(id, suffix)).await {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                    _ => {}
                }
            }
            Ok(())
        })
    }
}

/// `left` bytes of `file`, from where it stands, one piece at a time.
fn file_pieces(file: tokio::fs::File, left: u64) -> ByteStream {
    stream::try_unfold((file, left), |(mut file, left)| async move {
        if left == 0 {
            return Ok(None);
        }
        let mut piece = vec![0; CHUNK.min(left) as usize];
        let read = file.read(&mut piece).await?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        piece.truncate(read);
        Ok(Some((Bytes::from(piece), (file, left - read as u64))))
    })
    .boxed()
}

/// Rows of `attachment_chunks`, `part` `file` or `thumb`, 1 MiB each.
struct Chunks {
    store: Store,
}

impl BlobStore for Chunks {
    fn put_file<'a>(
        &'a self,
        id: &'a AttachmentId,
        path: &'a Path,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let mut file = tokio::fs::File::open(path).await?;
            let mut tx = self.store.writer().begin().await?;
            let mut chunk = 0i64;
            loop {
                let mut piece = Vec::with_capacity(CHUNK as usize);
                (&mut file).take(CHUNK).read_to_end(&mut piece).await?;
                if piece.is_empty() {
                    break;
                }
                insert_chunk(&mut tx, id, "file", chunk, piece).await?;
                chunk += 1;
            }
            tx.commit().await?;
            tokio::fs::remove_file(path).await?;
            Ok(())
        })
    }

    fn put_thumb<'a>(
        &'a self,
        id: &'a AttachmentId,
        webp: Vec<u8>,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let mut conn = self.store.writer().acquire().await?;
            insert_chunk(&mut conn, id, "thumb", 0, webp).await
        })
    }

    fn read(&self, id: &AttachmentId, start: u64, end: u64) -> ByteStream {
        let store = self.store.clone();
        let id = id.clone();
        stream::try_unfold(start, move |at| {
            let (store, id) = (store.clone(), id.clone());
            async move {
                if at >= end {
                    return Ok(None);
                }
                let chunk = at / CHUNK;
                let data: Option<Vec<u8>> = sqlx::query_scalar(
                    "SELECT data FROM attachment_chunks \
                     WHERE attachment_id = $1 AND part = 'file' AND chunk = $2",
                )
                .bind(&id)
                .bind(chunk as i64)
                .fetch_optional(store.reader())
                .await
                .map_err(std::io::Error::other)?;
                let data = data.ok_or(std::io::ErrorKind::UnexpectedEof)?;
                let from = (at - chunk * CHUNK) as usize;
                let to = data.len().min((end - chunk * CHUNK) as usize);
                if from >= to {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                let piece = Bytes::from(data).slice(from..to);
                let next = at + piece.len() as u64;
                Ok(Some((piece, next)))
            }
        })
        .boxed()
    }

    fn thumb<'a>(&'a self, id: &'a AttachmentId) -> BoxFuture<'a, anyhow::Result<Option<Vec<u8>>>> {
        Box::pin(async move {
            Ok(sqlx::query_scalar(
                "SELECT data FROM attachment_chunks \
                 WHERE attachment_id = $1 AND part = 'thumb' AND chunk = 0",
            )
            .bind(id)
            .fetch_optional(self.store.reader())
            .await?)
        })
    }

    fn remove<'a>(&'a self, id: &'a AttachmentId) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            sqlx::query("DELETE FROM attachment_chunks WHERE attachment_id = $1")
                .bind(id)
                .execute(self.store.writer())
                .await?;
            Ok(())
        })
    }
}

async fn insert_chunk(
    conn: &mut sqlx::AnyConnection,
    id: &AttachmentId,
    part: &str,
    chunk: i64,
    data: Vec<u8>,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO attachment_chunks (attachment_id, part, chunk, data) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(part)
    .bind(chunk)
    .bind(data)
    .execute(conn)
    .await?;
    Ok(())
}
