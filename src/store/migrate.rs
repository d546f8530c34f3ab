//! The embedded migrations (`migrations/sqlite`, `migrations/postgres`),
//! applied by `portcullis migrate` and at every start, one process at a time.

use diesel::RunQueryDsl;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::{Db, DbConnection, Manager, PoolWrites, StoreError};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

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

impl Db {
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
