//! One SQL text, run on either driver: the hot reads (the last message of each
//! conversation, search hits; history pages on SQLite have [`super::page_readers`])
//! go to SQLite's native driver, everything else and PostgreSQL to sqlx's `Any`
//! driver.
//!
//! Why a native path at all: `Any` converts every SQLite row into an `AnyRow`
//! (about 5% of a history page in a profile), and its pool pings each
//! connection on acquire, one more round trip to SQLite's worker thread per
//! page. The SQL stays the one both back-ends share; only the connection type
//! differs, so [`FetchRows`] is implemented for both by one macro.

use std::time::Duration;

use anyhow::Context;
use futures_util::future::BoxFuture;
use sqlx::any::AnyRow;
use sqlx::sqlite::{SqliteConnectOptions, SqliteRow};
use sqlx::{AnyConnection, ConnectOptions, Connection, Executor, FromRow, SqliteConnection};

use super::connection_list::{ConnectionList, Held};

/// A value bound to `$n`, in order.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Bind<'a> {
    Int(i64),
    Text(&'a str),
}

/// Runs a query with positional binds and decodes every row, on whichever
/// driver the connection belongs to. The future is boxed: an unboxed one,
/// generic over the row type's higher-ranked `FromRow` bounds, cannot be shown
/// to be `Send` by today's compiler (rust-lang/rust#100013).
pub(crate) trait FetchRows: Send {
    fn fetch_rows<'a, T>(
        &'a mut self,
        sql: &'a str,
        binds: &'a [Bind<'a>],
    ) -> BoxFuture<'a, Result<Vec<T>, sqlx::Error>>
    where
        T: for<'r> FromRow<'r, AnyRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin + 'a;
}

macro_rules! fetch_rows_on {
    ($connection:ty) => {
        impl FetchRows for $connection {
            fn fetch_rows<'a, T>(
                &'a mut self,
                sql: &'a str,
                binds: &'a [Bind<'a>],
            ) -> BoxFuture<'a, Result<Vec<T>, sqlx::Error>>
            where
                T: for<'r> FromRow<'r, AnyRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin + 'a,
            {
                let mut query = sqlx::query_as::<_, T>(sql);
                for bind in binds {
                    query = match *bind {
                        Bind::Int(value) => query.bind(value),
                        Bind::Text(value) => query.bind(value),
                    };
                }
                Box::pin(query.fetch_all(self))
            }
        }
    };
}

fetch_rows_on!(AnyConnection);
fetch_rows_on!(SqliteConnection);

/// SQLite connections on the native driver for the hot reads.
pub(crate) struct SqliteReaders(ConnectionList<SqliteConnection>);

/// A connection of [`SqliteReaders`], back in the list when dropped. A read
/// cancelled half-way leaves nothing behind: its statement is reset on the
/// worker thread before the next command runs, and readers open no
/// transactions.
pub(crate) type SqliteReader<'a> = Held<'a, SqliteConnection>;

impl SqliteReaders {
    pub(crate) async fn open(url: &str, size: usize, pragmas: &str) -> anyhow::Result<Self> {
        let options: SqliteConnectOptions = url
            .parse()
            .with_context(|| format!("parsing the SQLite URL {url}"))?;
        // A page is up to 101 rows; the default channel of 50 would make the
        // worker thread wait for the reader halfway through.
        let options = options
            .row_buffer_size(256)
            .busy_timeout(Duration::from_secs(5));
        let mut conns = Vec::with_capacity(size);
        for _ in 0..size {
            let mut conn = options
                .connect()
                .await
                .with_context(|| format!("opening SQLite database {url} for reading"))?;
            conn.execute(pragmas).await?;
            conns.push(conn);
        }
        Ok(Self(ConnectionList::new(conns)))
    }

    /// A connection for as long as the guard lives.
    pub(crate) async fn acquire(&self) -> Result<SqliteReader<'_>, sqlx::Error> {
        self.0.acquire().await.ok_or(sqlx::Error::PoolClosed)
    }

    /// Closes every connection; later acquires fail.
    pub(crate) async fn close(&self) {
        for conn in self.0.close() {
            let _ = conn.close().await;
        }
    }
}
