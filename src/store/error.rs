//! What can go wrong in storage, as callers above need to tell it apart:
//! unavailable (503, try again), a failed query (500), a conflict, corrupt data.

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
