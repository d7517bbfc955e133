//! Durable storage: SQLite (embedded, the default) or PostgreSQL.
//!
//! Both back-ends run the same SQL through sqlx's `Any` driver. The schema is kept
//! to what both dialects share (`$n` parameters, `RETURNING`, `ON CONFLICT`,
//! `CASE` instead of `max()`/`greatest()`), so every query exists once and one
//! conformance suite covers both; each back-end keeps its own migrations for
//! types and physical layout (`WITHOUT ROWID`, `BYTEA`).
//!
//! SQLite gets one write connection (SQLite has a single writer anyway, and one
//! connection avoids `SQLITE_BUSY` storms) and a small pool of readers, which WAL
//! lets run beside the writer. Message inserts go through [`writer`], which commits
//! them in batches. Messages read outside the writer (the last message of each
//! conversation, search hits) have their own SQLite readers on sqlx's native
//! driver ([`read`]): the same SQL, without `Any`'s conversion of every row and
//! its pool's pings. History pages, SQLite's own JSON ([`page_json`]), are read on
//! the request's thread through rusqlite ([`page_readers`]).

pub mod attachments;
pub mod avatars;
pub mod blobs;
pub mod blocks;
mod bulk_send;
pub mod changes;
mod checkpoint;
mod connection_list;
pub mod conversations;
pub mod groups;
pub mod messages;
mod page_json;
mod page_readers;
pub(crate) mod read;
pub mod search;
pub mod users;
pub mod writer;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyPool, Executor};

use self::conversations::MembersCache;
use self::page_readers::PageReaders;
use self::read::SqliteReaders;
use crate::config::{Config, SqliteSync};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where messages are read outside the writer.
#[derive(Clone)]
pub(crate) enum MessageReader {
    /// SQLite: connections of their own on the native driver, and for
    /// history pages, on the request's own thread.
    Sqlite {
        rows: Arc<SqliteReaders>,
        pages: Arc<PageReaders>,
    },
    /// PostgreSQL: the shared `Any` pool.
    Any(AnyPool),
}

#[derive(Clone)]
pub struct Store {
    read: AnyPool,
    write: AnyPool,
    messages: MessageReader,
    pub backend: Backend,
    members_cache: Arc<MembersCache>,
}

impl Store {
    /// Opens the database named by the config and applies pending migrations.
    pub async fn connect(config: &Config) -> anyhow::Result<Self> {
        install_default_drivers();
        let url = config.database_url();
        if url.starts_with("sqlite:") {
            sqlite_memstatus_off();
            std::fs::create_dir_all(&config.data_dir).with_context(|| {
                format!("creating the data directory {}", config.data_dir.display())
            })?;
            let synchronous = match config.sqlite_sync {
                SqliteSync::Full => "FULL",
                SqliteSync::Normal => "NORMAL",
            };
            let write = sqlite_pool(&url, 1, synchronous).await?;
            sqlx::migrate!("./migrations/sqlite")
                .run(&write)
                .await
                .context("applying SQLite migrations")?;
            // A migration may edit the schema's text (0004 widens a CHECK);
            // a fresh connection parses it anew.
            write.close().await;
            let write = sqlite_pool(&url, 1, synchronous).await?;
            let read = sqlite_pool(&url, 4, synchronous).await?;
            let messages =
                Arc::new(SqliteReaders::open(&url, 4, &sqlite_pragmas(synchronous)).await?);
            checkpoint::spawn(messages.clone());
            let path = SqliteConnectOptions::from_str(&url)?
                .get_filename()
                .to_owned();
            let pages = Arc::new(PageReaders::open(&path, 4)?);
            Ok(Self {
                read,
                write,
                messages: MessageReader::Sqlite {
                    rows: messages,
                    pages,
                },
                backend: Backend::Sqlite,
                members_cache: Default::default(),
            })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = AnyPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(5))
                // sqlx pings a connection when it is released, and by default
                // again when it is handed out: a round trip to the server on
                // every acquire. A connection used a moment ago is known to be
                // alive, so only one idle for a while (a restarted server, a
                // proxy's idle cut) is pinged first; a failed ping discards it
                // and the pool takes or opens another.
                .test_before_acquire(false)
                .before_acquire(|conn, meta| {
                    Box::pin(async move {
                        if meta.idle_for >= PING_IDLE_AFTER {
                            sqlx::Connection::ping(conn).await?;
                        }
                        Ok(true)
                    })
                })
                .connect(&url)
                .await
                .context("connecting to PostgreSQL")?;
            sqlx::migrate!("./migrations/postgres")
                .run(&pool)
                .await
                .context("applying PostgreSQL migrations")?;
            Ok(Self {
                read: pool.clone(),
                messages: MessageReader::Any(pool.clone()),
                write: pool,
                backend: Backend::Postgres,
                members_cache: Default::default(),
            })
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite: or postgres:")
        }
    }

    pub fn reader(&self) -> &AnyPool {
        &self.read
    }

    pub fn writer(&self) -> &AnyPool {
        &self.write
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.read).await.is_ok()
    }

    pub(crate) fn message_reader(&self) -> &MessageReader {
        &self.messages
    }

    pub async fn close(&self) {
        if let MessageReader::Sqlite { rows, pages } = &self.messages {
            pages.close();
            rows.close().await;
        }
        self.read.close().await;
        self.write.close().await;
    }
}

async fn sqlite_pool(url: &str, size: u32, synchronous: &'static str) -> anyhow::Result<AnyPool> {
    AnyPoolOptions::new()
        .max_connections(size)
        .min_connections(size)
        .acquire_timeout(Duration::from_secs(10))
        // A ping before each use is one more hand-off to the connection's
        // thread; a file that is open does not go away like a socket.
        .test_before_acquire(false)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                conn.execute(sqlite_pragmas(synchronous).as_str()).await?;
                Ok(())
            })
        })
        .connect(url)
        .await
        .with_context(|| format!("opening SQLite database {url}"))
}

/// Turns off SQLite's allocation statistics, which take a process-wide mutex
/// on every malloc and free SQLite makes: ~7% of a history page's CPU in a
/// profile (docs/benchmarks.md, "What each optimisation changed", item 9).
/// natter never reads them. It must run before SQLite initialises, so before
/// the first connection; later (a second store in one process) SQLite refuses
/// it with `SQLITE_MISUSE` and keeps its setting, which is harmless.
fn sqlite_memstatus_off() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: `sqlite3_config` with `SQLITE_CONFIG_MEMSTATUS` takes one
        // int; it is called once, before any connection of this process.
        let code =
            unsafe { libsqlite3_sys::sqlite3_config(libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS, 0) };
        if code != libsqlite3_sys::SQLITE_OK {
            tracing::debug!(code, "SQLite kept its allocation statistics on");
        }
    });
}

/// What every SQLite connection runs first, whichever driver opened it.
///
/// `temp_store = MEMORY`: a multi-row statement inside a transaction keeps a
/// statement journal (the pages it changed, to undo just that statement);
/// in memory rather than in a temporary file it cost ~10% less per batch of
/// sends (docs/benchmarks.md, "What each optimisation changed", item 8).
///
/// `wal_autocheckpoint`: checkpoints run in the background ([`checkpoint`]);
/// a committing connection checkpoints inline only as a backstop.
fn sqlite_pragmas(synchronous: &str) -> String {
    format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; \
         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA temp_store = MEMORY; \
         PRAGMA wal_autocheckpoint = {};",
        checkpoint::WRITER_BACKSTOP_PAGES
    )
}

/// How long a PostgreSQL connection may sit idle in the pool and still be
/// handed out without a ping first.
const PING_IDLE_AFTER: Duration = Duration::from_secs(10);

/// What the store reports. It knows nothing of HTTP: services decide what a
/// duplicate means for their caller (a taken username, an idempotent retry).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write.
    #[error("duplicate: {0}")]
    Duplicate(#[source] sqlx::Error),
    /// The database cannot be reached or the pool is exhausted.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// A history page's read on SQLite's own API ([`page_readers`]) failed.
    #[error("database error: {0}")]
    Page(#[source] rusqlite::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::Database(ref db) if db.is_unique_violation() => Self::Duplicate(e),
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                Self::Unavailable(e)
            }
            other => Self::Database(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

    /// Migration 0010 marks the messages that had reactions or attachments
    /// before it, so their history pages still look them up.
    #[tokio::test]
    async fn extras_are_set_on_existing_messages_with_reactions_or_files() {
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteConnectOptions::from_str(&format!(
            "sqlite://{}",
            dir.path().join("t.db").display()
        ))
        .unwrap()
        .create_if_missing(true)
        .foreign_keys(false);
        let pool = SqlitePool::connect_with(options).await.unwrap();
        let mut before = sqlx::migrate!("./migrations/sqlite");
        let earlier: Vec<_> = before
            .migrations
            .iter()
            .filter(|m| m.version < 10)
            .cloned()
            .collect();
        before.migrations = earlier.into();
        before.run(&pool).await.unwrap();
        for seq in 1..=4 {
            sqlx::query(
                "INSERT INTO messages (conversation_id, seq, id, sender_id, msg, client_id, created_at) \
                 VALUES ('c', ?1, 'm' || ?1, 'u', 'hi', 'k' || ?1, 0)",
            )
            .bind(seq)
            .execute(&pool)
            .await
            .unwrap();
        }
        sqlx::query("INSERT INTO reactions (conversation_id, seq, emoji, user_id, rev) VALUES ('c', 1, '👍', 'u', 5)")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO attachments (id, uploader_id, name, content_type, size, conversation_id, seq, position, created_at) \
             VALUES ('a', 'u', 'f.txt', 'text/plain', 1, 'c', 3, 0, 0), \
                    ('b', 'u', 'g.txt', 'text/plain', 1, NULL, NULL, NULL, 0)",
        )
        .execute(&pool)
        .await
        .unwrap();

        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .unwrap();
        let extras: Vec<(i64, i64)> =
            sqlx::query_as("SELECT seq, extras FROM messages ORDER BY seq")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(extras, [(1, 1), (2, 0), (3, 1), (4, 0)]);
    }
}
