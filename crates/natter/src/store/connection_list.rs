//! A fixed set of database connections taken in turn: the SQLite readers on
//! sqlx ([`super::read`]) and on rusqlite ([`super::page_readers`]) alike.
//!
//! Not a `sqlx::Pool`: that one pings a connection when it hands it out and
//! again, in a task of its own, when it comes back, each a round trip to the
//! connection's worker thread, for a local file that cannot hang up. Here a
//! connection is taken from and put back into a list; the semaphore makes the
//! callers wait for one in turn.

use std::sync::Mutex;

use tokio::sync::{Semaphore, SemaphorePermit};

pub(crate) struct ConnectionList<C> {
    idle: Mutex<Vec<C>>,
    available: Semaphore,
}

impl<C> ConnectionList<C> {
    pub(crate) fn new(connections: Vec<C>) -> Self {
        Self {
            available: Semaphore::new(connections.len()),
            idle: Mutex::new(connections),
        }
    }

    /// A connection for as long as the guard lives; `None` once closed.
    pub(crate) async fn acquire(&self) -> Option<Held<'_, C>> {
        let permit = self.available.acquire().await.ok()?;
        let conn = self.idle_list().pop()?;
        Some(Held {
            list: self,
            conn: Some(conn),
            _permit: permit,
        })
    }

    /// Later acquires fail; the idle connections are handed back to be closed.
    pub(crate) fn close(&self) -> Vec<C> {
        self.available.close();
        std::mem::take(&mut *self.idle_list())
    }

    fn idle_list(&self) -> std::sync::MutexGuard<'_, Vec<C>> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A connection of a [`ConnectionList`], back in the list when dropped.
pub(crate) struct Held<'a, C> {
    list: &'a ConnectionList<C>,
    conn: Option<C>,
    _permit: SemaphorePermit<'a>,
}

impl<C> std::ops::Deref for Held<'_, C> {
    type Target = C;

    fn deref(&self) -> &C {
        self.conn.as_ref().expect("held until dropped")
    }
}

impl<C> std::ops::DerefMut for Held<'_, C> {
    fn deref_mut(&mut self) -> &mut C {
        self.conn.as_mut().expect("held until dropped")
    }
}

impl<C> Drop for Held<'_, C> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.list.idle_list().push(conn);
        }
    }
}
