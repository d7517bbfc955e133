//! History pages on SQLite, read on the request's own thread.
//!
//! Why not sqlx here: each of its SQLite queries is a command sent to the
//! connection's worker thread and an answer sent back, two task switches and
//! two channel hand-offs per page (the kernel's task switches alone were ~12%
//! of a page's CPU in a profile, docs/benchmarks.md). A page is one prepared
//! statement answering one text value (`page_json`) in about a tenth of a
//! millisecond, so it runs where the request already is, on a rusqlite
//! connection: the same SQLite library sqlx links. The number of connections
//! bounds how many tokio workers are inside SQLite at once; the statement has
//! no await point, so a cancelled request cannot leave it half-read.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use rusqlite::{Connection, OpenFlags};

use super::connection_list::ConnectionList;

/// Prepared statements kept per connection: the page's three shapes.
const STATEMENTS_PER_CONNECTION: usize = 8;

/// How much of the database file each page reader maps into memory: its pages
/// are then read in place from the OS page cache, not copied by a `pread` per
/// page (reads were ~7% of a page's CPU, and the mapping took ~6% off it in
/// interleaved runs, docs/benchmarks.md item 13). The mapped pages are the
/// page cache's, shared by the four readers, and show as file-backed RSS.
/// SQLite maps the file only as far as it reaches; natter never shrinks it (no
/// `VACUUM` while serving, see docs/operations.md).
const MMAP_BYTES: u64 = 1 << 30;

/// The bound values of a page's statement: the conversation, the two cursors
/// and the limit (`?1`–`?4` of `page_json`'s statements).
pub(crate) struct PageBinds<'a> {
    pub conversation_id: &'a str,
    pub low: i64,
    pub high: i64,
    pub limit: i64,
}

pub(crate) struct PageReaders(ConnectionList<Connection>);

impl PageReaders {
    /// `size` connections to the database file at `path`, which the writer
    /// has already created and put in WAL mode.
    pub(crate) fn open(path: &Path, size: usize) -> anyhow::Result<Self> {
        let mut conns = Vec::with_capacity(size);
        for _ in 0..size {
            let conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .with_context(|| format!("opening {} for history pages", path.display()))?;
            conn.busy_timeout(Duration::from_secs(5))?;
            conn.execute_batch(&format!(
                "PRAGMA query_only = ON; PRAGMA temp_store = MEMORY; PRAGMA mmap_size = {MMAP_BYTES};"
            ))?;
            conn.set_prepared_statement_cache_capacity(STATEMENTS_PER_CONNECTION);
            conns.push(conn);
        }
        Ok(Self(ConnectionList::new(conns)))
    }

    /// The single text value `sql` answers with `binds`.
    pub(crate) async fn text(&self, sql: &str, binds: PageBinds<'_>) -> rusqlite::Result<String> {
        let conn = self.0.acquire().await.ok_or_else(closed)?;
        let mut statement = conn.prepare_cached(sql)?;
        statement.query_row(
            (binds.conversation_id, binds.low, binds.high, binds.limit),
            |row| row.get(0),
        )
    }

    /// Closes every connection; later reads fail.
    pub(crate) fn close(&self) {
        drop(self.0.close());
    }
}

fn closed() -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_MISUSE),
        Some("the history page readers are closed".into()),
    )
}
