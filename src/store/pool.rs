//! The r2d2 connection manager: opens the backend the URL names and applies
//! SQLite's pragmas on every new connection.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};

use super::{DatabaseUrl, DbConnection};

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
    pub(super) fn new(url: &DatabaseUrl, writes: PoolWrites) -> Self {
        Manager {
            url: url.clone(),
            writes,
        }
    }

    pub(super) fn open(&self) -> Result<DbConnection, r2d2::Error> {
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
