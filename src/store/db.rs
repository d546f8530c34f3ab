//! [`Db`]: the handle on the database shared by the server, the CLI and
//! the tests. Reads run on tokio's blocking pool; writes on SQLite's writer
//! thread (PostgreSQL: the pool), so no HTTP worker waits on the database.

use std::time::Duration;

use diesel::r2d2;
use diesel::RunQueryDsl;

use super::sqlite_writer::Writer;
use super::{DatabaseUrl, DbConnection, Manager, Pool, PoolWrites, PooledConnection, StoreError};

/// Handle on the database shared by the server, the CLI and the tests.
#[derive(Clone)]
pub struct Db {
    /// For the migration connection (r2d2 does not hand out its manager).
    pub(super) url: DatabaseUrl,
    pool: Pool,
    /// SQLite allows one writer at a time. Writes go to one thread that owns
    /// the write connection, so they queue there, in order, instead of
    /// spinning in SQLite's busy handler (which sleeps up to 100 ms between
    /// tries and made p99 latencies of concurrent refreshes balloon).
    /// PostgreSQL writes use the main pool.
    writer: Option<Writer>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Db {
    /// Opens the pool. SQLite's parent directory is created when missing.
    pub fn connect(url: &DatabaseUrl, pool_size: u32) -> Result<Self, StoreError> {
        Self::open(url, pool_size, PoolWrites::Allowed)
    }

    /// Opens the pool, refusing writes on its SQLite connections (see
    /// [`PoolWrites::Refused`]).
    pub fn connect_server(url: &DatabaseUrl, pool_size: u32) -> Result<Self, StoreError> {
        Self::open(url, pool_size, PoolWrites::Refused)
    }

    fn open(url: &DatabaseUrl, pool_size: u32, writes: PoolWrites) -> Result<Self, StoreError> {
        let backend = match url {
            DatabaseUrl::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
                Backend::Sqlite
            }
            DatabaseUrl::Postgres(_) => Backend::Postgres,
        };
        // The writer's connection opens first and alone: on a fresh file it
        // is the one that turns on WAL. Several connections doing that at
        // once fail with "database is locked" without waiting (SQLite's
        // deadlock avoidance skips the busy handler), and the pool's
        // retries then ran into its timeout on a busy machine.
        let writer = match backend {
            Backend::Sqlite => Some(Writer::start(Manager::new(url, PoolWrites::Allowed))?),
            Backend::Postgres => None,
        };
        let pool = r2d2::Pool::builder()
            .max_size(pool_size)
            .connection_timeout(Duration::from_secs(2))
            // A local SQLite connection does not break; a PostgreSQL one
            // does when the server goes away, and must be tested on checkout.
            .test_on_check_out(backend == Backend::Postgres)
            .build(Manager::new(url, writes))
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(Db {
            url: url.clone(),
            pool,
            writer,
        })
    }

    /// Whether the database answers a trivial query: the readiness probe.
    pub async fn ping(&self) -> bool {
        self.run(|conn| {
            diesel::sql_query("SELECT 1")
                .execute(conn)
                .map_err(StoreError::from)
        })
        .await
        .is_ok()
    }

    pub fn conn(&self) -> Result<PooledConnection, StoreError> {
        self.pool
            .get()
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    /// Runs blocking database work on the blocking thread pool.
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.conn()?;
            work(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Runs blocking work that writes, on the writer connection (SQLite) or
    /// the pool (PostgreSQL). Reads inside `work` see the writer's snapshot.
    pub async fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        match &self.writer {
            Some(writer) => writer.run(work).await,
            None => self.run(work).await,
        }
    }
}
