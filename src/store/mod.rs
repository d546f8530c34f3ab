//! Storage: the connection pool, the schema, row models and their queries.
//!
//! One binary serves SQLite (the embedded default) and PostgreSQL (replicas);
//! the backend is chosen at run time from the database URL. Every query here
//! is blocking: callers above this layer go through [`Db::run`] (tokio's
//! blocking pool) or [`Db::write`] (SQLite's writer thread), so no HTTP
//! worker waits on the database.
//!
//! Lookups by a primary or unique key use `get_result`, not `first`: diesel
//! binds `first`'s `LIMIT 1` as a parameter, and SQLite (since 3.47) plans a
//! bound LIMIT as a constant and re-prepares the cached statement whenever
//! the parameter is bound again — every call. That was 12 % of the SQLite
//! writer's time on a refresh.

pub mod audit;
pub mod authorization;
pub mod clients;
pub mod keys;
pub mod refresh_tokens;
pub mod revoked_tokens;
pub mod schema;
pub mod sessions;
pub mod throttle;
pub mod users;

pub use keys::SigningAlg;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// Runs one diesel expression on the concrete connection behind a
/// [`DbConnection`]. Through the `MultiConnection` wrapper every query is
/// rebuilt as SQL text on each call just to find its prepared statement;
/// on the concrete connection a query with a static shape finds it by type.
/// Used on the hot paths: refresh-token rotation and introspection.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::store::DbConnection::Sqlite($c) => $body,
            $crate::store::DbConnection::Pg($c) => $body,
        }
    };
}
pub(crate) use on_backend;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Query(diesel::result::Error),
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("background task failed: {0}")]
    Task(String),
    /// A stored value that cannot be what Portcullis wrote: an unknown
    /// state, a malformed list or scope, JSON that does not parse.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Maps a unique-constraint violation to `Conflict`, leaving other errors alone.
    pub fn conflict_on_unique(err: diesel::result::Error, what: &'static str) -> Self {
        match err {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => StoreError::Conflict(what),
            other => other.into(),
        }
    }
}

/// A connection that lost its server is the database being unavailable
/// (503, try again), not a failed query (500).
impl From<diesel::result::Error> for StoreError {
    fn from(err: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match err {
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => StoreError::Unavailable(info.message().to_owned()),
            other => StoreError::Query(other),
        }
    }
}

/// Where the data lives, parsed from the database URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    /// Accepts `sqlite://PATH` (relative or absolute), `sqlite::memory:` and
    /// `postgres://` / `postgresql://` URLs.
    pub fn parse(url: &str) -> Result<Self, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_owned()));
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("a sqlite:// URL needs a file path".into());
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        Err("expected sqlite://PATH or postgres://… ".into())
    }
}

/// r2d2 manager that opens the backend the URL names (diesel's derived
/// `establish` would try each backend in turn and let SQLite accept any string
/// as a file name) and applies the SQLite pragmas on every new connection.
#[derive(Debug)]
pub struct Manager {
    url: DatabaseUrl,
    writes: PoolWrites,
}

/// Whether the pool's SQLite connections may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolWrites {
    /// The CLI and tests: short-lived, one command at a time.
    Allowed,
    /// The server: every write goes through the one writer connection
    /// ([`Db::write`]). A write slipped onto the pool would take SQLite's
    /// write lock behind the writer's back and make every queued write wait
    /// in the busy handler; `query_only` makes it fail at once instead, so
    /// the test suite finds it.
    Refused,
}

/// A pooled connection and when it last went back to the pool.
pub struct Tracked {
    conn: DbConnection,
    returned: Instant,
}

impl std::ops::Deref for Tracked {
    type Target = DbConnection;
    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Tracked {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

/// A PostgreSQL connection that went back to the pool less than this long
/// ago is handed out again without a `SELECT 1` first: under load that test
/// was one round trip in six on a refresh. A connection that loses its
/// server fails its next query, is then marked broken (libpq reports the
/// connection status) and is dropped when it comes back; one idle longer is
/// tested as before, which is what recovers the pool after an outage.
const RECENTLY_USED: Duration = Duration::from_secs(1);

impl Manager {
    fn new(url: &DatabaseUrl, writes: PoolWrites) -> Self {
        Manager {
            url: url.clone(),
            writes,
        }
    }

    fn open(&self) -> Result<DbConnection, r2d2::Error> {
        match &self.url {
            DatabaseUrl::Postgres(url) => PgConnection::establish(url)
                .map(DbConnection::Pg)
                .map_err(r2d2::Error::ConnectionError),
            DatabaseUrl::Sqlite(path) => {
                let path = path.to_string_lossy();
                let mut conn =
                    SqliteConnection::establish(&path).map_err(r2d2::Error::ConnectionError)?;
                // WAL lets readers run beside the writer; the busy timeout makes
                // writers queue instead of failing with "database is locked".
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                )
                .map_err(r2d2::Error::QueryError)?;
                if self.writes == PoolWrites::Refused {
                    conn.batch_execute("PRAGMA query_only = ON")
                        .map_err(r2d2::Error::QueryError)?;
                }
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

impl ManageConnection for Manager {
    type Connection = Tracked;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<Tracked, r2d2::Error> {
        Ok(Tracked {
            conn: self.open()?,
            returned: Instant::now(),
        })
    }

    fn is_valid(&self, conn: &mut Tracked) -> Result<(), r2d2::Error> {
        if conn.returned.elapsed() < RECENTLY_USED {
            return Ok(());
        }
        diesel::sql_query("SELECT 1")
            .execute(&mut conn.conn)
            .map(|_| ())
            .map_err(r2d2::Error::QueryError)
    }

    /// A lost PostgreSQL server, or a transaction left open by a job that
    /// failed half-way (either backend): diesel's transaction manager knows.
    fn has_broken(&self, conn: &mut Tracked) -> bool {
        conn.returned = Instant::now();
        diesel::r2d2::R2D2Connection::is_broken(&mut conn.conn)
    }
}

pub type Pool = r2d2::Pool<Manager>;
pub type PooledConnection = r2d2::PooledConnection<Manager>;

/// Handle on the database shared by the server, the CLI and the tests.
#[derive(Clone)]
pub struct Db {
    /// For the migration connection (r2d2 does not hand out its manager).
    url: DatabaseUrl,
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

    /// A connection of its own that may write, for migrations.
    fn schema_connection(&self) -> Result<DbConnection, StoreError> {
        Manager::new(&self.url, PoolWrites::Allowed)
            .open()
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    /// Applies every pending migration of the backend in use, one process
    /// at a time: replicas started together on a new database would
    /// otherwise all create the same tables, and all but one fail (on
    /// PostgreSQL with a duplicate key in `pg_type`). PostgreSQL holds an
    /// advisory lock around the run; SQLite runs it inside an exclusive
    /// transaction (diesel's own per-migration transactions become
    /// savepoints in it), so the others wait in the busy handler and then
    /// find nothing left to apply.
    pub fn migrate(&self) -> Result<usize, StoreError> {
        let mut conn = self.schema_connection()?;
        let failed = |e: &dyn std::fmt::Display| StoreError::Migration(e.to_string());
        match &mut conn {
            DbConnection::Sqlite(c) => c
                .exclusive_transaction(|c| {
                    c.run_pending_migrations(SQLITE_MIGRATIONS)
                        .map(|v| v.len())
                        .map_err(MigrationRun::Failed)
                })
                .map_err(|e| failed(&e)),
            DbConnection::Pg(c) => {
                diesel::sql_query("SELECT pg_advisory_lock($1)")
                    .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK)
                    .execute(c)
                    .map_err(|e| failed(&e))?;
                let applied = c
                    .run_pending_migrations(POSTGRES_MIGRATIONS)
                    .map(|v| v.len())
                    .map_err(|e| failed(&e));
                // The lock is the session's: closing the connection (just
                // below) releases it even when this unlock fails.
                let _ = diesel::sql_query("SELECT pg_advisory_unlock($1)")
                    .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK)
                    .execute(c);
                applied
            }
        }
    }

    /// Reverts every applied migration (used by the migration round-trip test).
    pub fn revert_all(&self) -> Result<(), StoreError> {
        let mut conn = self.schema_connection()?;
        let reverted = match &mut conn {
            DbConnection::Sqlite(c) => c.revert_all_migrations(SQLITE_MIGRATIONS).map(|_| ()),
            DbConnection::Pg(c) => c.revert_all_migrations(POSTGRES_MIGRATIONS).map(|_| ()),
        };
        reverted.map_err(|e| StoreError::Migration(e.to_string()))
    }
}

/// The PostgreSQL advisory lock held while migrations run ("portcull" in ASCII).
const MIGRATION_LOCK: i64 = 0x706f_7274_6375_6c6c;

/// A migration run inside SQLite's exclusive transaction: either the
/// transaction itself failed or a migration did.
#[derive(Debug, thiserror::Error)]
enum MigrationRun {
    #[error(transparent)]
    Transaction(#[from] diesel::result::Error),
    #[error("{0}")]
    Failed(Box<dyn std::error::Error + Send + Sync>),
}

type WriteJob = Box<dyn FnOnce(Result<&mut DbConnection, StoreError>) + Send>;

/// The thread that owns SQLite's write connection and runs write jobs one
/// after another, in arrival order. A FIFO channel is fairer than waiting on
/// a one-connection pool (whose waiters wake in any order) and saves a
/// blocking-pool hand-off per write.
///
/// Checkpoints stay off the write path. SQLite's automatic checkpoint runs
/// inside whichever commit crosses 1,000 WAL pages — every few dozen
/// refreshes under load — and, with `synchronous = NORMAL`, syncs the WAL
/// and the database file there, while every write queued behind it waits.
/// So the writer has `wal_autocheckpoint = 0`, and a second thread runs
/// PASSIVE checkpoints every [`CHECKPOINT_INTERVAL`] beside it (they do not
/// block writers). Under a steady stream of commits such a checkpoint never
/// catches up with the end of the WAL, so the WAL could not restart and
/// would grow without bound: past [`WAL_RESTART_PAGES`] the checkpointer
/// queues one checkpoint on the writer itself, which finds nearly every page
/// already copied and lets the next commit restart the WAL.
#[derive(Clone)]
struct Writer {
    jobs: std::sync::mpsc::Sender<WriteJob>,
    /// Dropped with the last handle, which stops the checkpointer (and then
    /// the writer, whose queue the checkpointer also holds).
    _checkpointer: std::sync::mpsc::Sender<()>,
}

const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(25);
const WAL_RESTART_PAGES: i64 = 16_384;

#[derive(diesel::QueryableByName)]
struct CheckpointResult {
    /// Pages in the WAL.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    log: i64,
}

fn checkpoint(conn: &mut DbConnection) -> Result<i64, diesel::result::Error> {
    let result: CheckpointResult =
        diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").get_result(conn)?;
    Ok(result.log)
}

fn connect_writer(manager: &Manager) -> Result<DbConnection, r2d2::Error> {
    let mut conn = manager.open()?;
    conn.batch_execute("PRAGMA wal_autocheckpoint = 0")
        .map_err(r2d2::Error::QueryError)?;
    Ok(conn)
}

impl Writer {
    fn start(manager: Manager) -> Result<Self, StoreError> {
        let (jobs, queue) = std::sync::mpsc::channel::<WriteJob>();
        // Connect once up front so a bad path fails at startup.
        let first = connect_writer(&manager).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let mut background = manager
            .open()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let (checkpointer, stop) = std::sync::mpsc::channel::<()>();
        let writer_jobs = jobs.clone();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                let restart_queued = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
                let mut failures = 0u32;
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stop.recv_timeout(CHECKPOINT_INTERVAL)
                {
                    let pages = match checkpoint(&mut background) {
                        Ok(pages) => {
                            failures = 0;
                            pages
                        }
                        Err(e) => {
                            // Another process's checkpoint (a CLI command, a
                            // second server on the same file) is normal; only
                            // a failure that lasts (~5 s) is worth a warning.
                            failures += 1;
                            if failures % 200 == 0 {
                                tracing::warn!(error = %e, failures, "WAL checkpoints keep failing");
                            } else {
                                tracing::debug!(error = %e, "WAL checkpoint failed");
                            }
                            continue;
                        }
                    };
                    use std::sync::atomic::Ordering::SeqCst;
                    if pages > WAL_RESTART_PAGES && !restart_queued.swap(true, SeqCst) {
                        let done = restart_queued.clone();
                        let _ = writer_jobs.send(Box::new(move |conn| {
                            if let Ok(conn) = conn {
                                let _ = checkpoint(conn);
                            }
                            done.store(false, SeqCst);
                        }));
                    }
                }
            })
            .map_err(|e| StoreError::Unavailable(format!("cannot start the checkpointer: {e}")))?;
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let mut conn = Some(first);
                // Ends when the last `Db` handle is dropped.
                for job in queue {
                    if conn.is_none() {
                        conn = connect_writer(&manager).ok();
                    }
                    let outcome = match conn.as_mut() {
                        Some(c) => {
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(Ok(c))))
                        }
                        None => {
                            job(Err(StoreError::Unavailable(
                                "cannot open the SQLite database for writing".into(),
                            )));
                            Ok(())
                        }
                    };
                    // A job that panicked may have left a transaction open;
                    // so may one that failed half-way (the pool's rule too).
                    let broken = conn
                        .as_mut()
                        .is_some_and(diesel::r2d2::R2D2Connection::is_broken);
                    if outcome.is_err() || broken {
                        conn = None;
                    }
                }
            })
            .map_err(|e| StoreError::Unavailable(format!("cannot start the writer: {e}")))?;
        Ok(Writer {
            jobs,
            _checkpointer: checkpointer,
        })
    }

    async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: WriteJob = Box::new(move |conn| {
            let result = match conn {
                Ok(conn) => work(conn),
                Err(e) => Err(e.into()),
            };
            let _ = reply.send(result);
        });
        self.jobs
            .send(job)
            .map_err(|_| StoreError::Unavailable("the SQLite writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Task("a database write failed unexpectedly".into()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite_db(dir: &tempfile::TempDir) -> Db {
        let url = DatabaseUrl::Sqlite(dir.path().join("w.db"));
        let db = Db::connect(&url, 2).unwrap();
        db.migrate().unwrap();
        db
    }

    #[tokio::test]
    async fn the_writer_outlives_a_panicking_job() {
        let dir = tempfile::tempdir().unwrap();
        let db = sqlite_db(&dir);
        let panicked = db
            .write(|conn| -> Result<(), StoreError> {
                diesel::sql_query("BEGIN IMMEDIATE").execute(conn)?;
                diesel::sql_query("CREATE TABLE seen (n INTEGER)").execute(conn)?;
                panic!("a bug in a write job, inside a transaction")
            })
            .await;
        assert!(matches!(panicked, Err(StoreError::Task(_))));
        // The next job gets a fresh connection: no transaction left open,
        // the half-done one rolled back.
        let created = db
            .write(|conn| {
                diesel::sql_query("CREATE TABLE seen (n INTEGER)").execute(conn)?;
                diesel::sql_query("INSERT INTO seen VALUES (7)").execute(conn)?;
                Ok::<_, StoreError>(())
            })
            .await;
        assert!(created.is_ok(), "{created:?}");
        #[derive(diesel::QueryableByName)]
        struct Seen {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let seen: Seen = db
            .run(|conn| {
                Ok::<_, StoreError>(diesel::sql_query("SELECT n FROM seen").get_result(conn)?)
            })
            .await
            .unwrap();
        assert_eq!(seen.n, 7);
    }

    /// The server's pool cannot write on SQLite: a write that skipped the
    /// writer fails at once (and every API test runs against such a pool).
    #[tokio::test]
    async fn the_servers_pool_refuses_writes_and_the_writer_takes_them() {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::Sqlite(dir.path().join("s.db"));
        let db = Db::connect_server(&url, 2).unwrap();
        db.migrate().unwrap();
        let create = |conn: &mut DbConnection| {
            diesel::sql_query("CREATE TABLE IF NOT EXISTS t (n INTEGER)").execute(conn)?;
            diesel::sql_query("INSERT INTO t VALUES (1)").execute(conn)?;
            Ok::<_, StoreError>(())
        };
        let refused = db.run(create).await;
        assert!(
            matches!(&refused, Err(StoreError::Query(e)) if e.to_string().contains("readonly")),
            "{refused:?}"
        );
        db.write(create).await.unwrap();
        let count: i64 = db
            .run(|conn| {
                Ok::<_, StoreError>(
                    diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
                        "(SELECT COUNT(*) FROM t)",
                    ))
                    .get_result(conn)?,
                )
            })
            .await
            .unwrap();
        assert_eq!(count, 1);
    }

    /// A pool's connections open at the same moment. On a fresh file, once
    /// one connection has turned on WAL (`Db::connect` opens the writer's
    /// first), they all succeed; without that first one, some fail at once
    /// with "database is locked" (seen as a server that did not start in CI).
    #[test]
    fn after_the_first_connection_the_rest_open_at_once() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let url = DatabaseUrl::Sqlite(dir.path().join("fresh.db"));
            let manager = std::sync::Arc::new(Manager::new(&url, PoolWrites::Allowed));
            // What `Db::connect` does first: one connection turns on WAL.
            let _first = manager.open().unwrap();
            let start = std::sync::Arc::new(std::sync::Barrier::new(8));
            let opened: Vec<_> = (0..8)
                .map(|_| {
                    let (manager, start) = (manager.clone(), start.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        manager.open().map(|_| ()).map_err(|e| e.to_string())
                    })
                })
                .collect();
            for result in opened {
                let result = result.join().unwrap();
                assert!(result.is_ok(), "{result:?}");
            }
        }
    }
}
