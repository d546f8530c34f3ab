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

//!
//! - `db.rs`: [`Db`], the handle every caller holds (`run`, `write`, `ping`);
//! - `pool.rs`: the r2d2 connection manager and its per-backend pragmas;
//! - `sqlite_writer.rs`: SQLite's one writer thread and its checkpointer;
//! - `migrate.rs`: embedded migrations, serialised across processes;
//! - `error.rs`, `url.rs`; then one file per table.

pub mod audit;
pub mod authorization;
pub mod clients;
mod db;
pub mod device_codes;
mod error;
pub mod keys;
pub mod login_challenges;
mod migrate;
mod pool;
pub mod pushed_requests;
pub mod refresh_tokens;
pub mod registration_tokens;
pub mod revoked_tokens;
pub mod schema;
pub mod second_factors;
pub mod seen_jtis;
pub mod sessions;
mod sqlite_writer;
pub mod throttle;
mod url;
pub mod users;

pub use db::Db;
pub use error::StoreError;
pub use keys::SigningAlg;
pub use pool::{Manager, Pool, PoolWrites, PooledConnection, Tracked};
pub use url::DatabaseUrl;

use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;

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

/// A query type that always writes the same SQL: its id lets diesel find
/// the prepared statement by type. For hot-path statements written as
/// `QueryFragment`s of their own (refresh rotation, device polls).
macro_rules! static_query {
    ($($query:ident),*) => {$(
        impl diesel::query_builder::QueryId for $query<'_> {
            type QueryId = $query<'static>;
            const HAS_STATIC_QUERY_ID: bool = true;
        }
        impl<Conn> diesel::RunQueryDsl<Conn> for $query<'_> {}
    )*};
}
pub(crate) use static_query;
