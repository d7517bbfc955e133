//! SQLite's WAL checkpoints, off the message writer's path.
//!
//! By default SQLite checkpoints in the connection that commits: once the WAL
//! holds 1,000 pages, that commit also copies them into the database file and
//! fsyncs it before it returns, and every send of its batch waits for that.
//! At a light load (a batch every few milliseconds) this ran more than ten
//! times a second, each copying hot pages that the next batches changed again.
//!
//! Here a task checkpoints every [`EVERY`] from a reader connection
//! (`PASSIVE`: it copies what no reader still needs and never blocks the
//! writer), so a page changed by many batches in between is copied once. The
//! WAL starts over from its beginning when a write transaction begins with
//! every frame copied; a checkpoint racing the writer can leave the last
//! batch's frames uncopied, so the writer keeps SQLite's own checkpoint as a
//! backstop at [`WRITER_BACKSTOP_PAGES`]: at that size it checkpoints inline,
//! which by then copies only the frames since the last background checkpoint,
//! and the WAL starts over.

use std::sync::Arc;
use std::time::Duration;

use super::read::SqliteReaders;

/// How often the background checkpoint runs.
pub(crate) const EVERY: Duration = Duration::from_millis(100);

/// `wal_autocheckpoint` of every connection: the WAL size (in pages) at which
/// a committing connection checkpoints inline, as SQLite does at 1,000.
pub(crate) const WRITER_BACKSTOP_PAGES: u32 = 8_000;

/// Runs the background checkpoint until the readers are closed.
pub(crate) fn spawn(readers: Arc<SqliteReaders>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Ok(mut conn) = readers.acquire().await else {
                return; // the store closed
            };
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&mut *conn)
                .await
            {
                tracing::warn!("WAL checkpoint: {e}");
            }
        }
    });
}
