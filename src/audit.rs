//! The audit trail: admin actions, key events, logins, token reuse.
//!
//! Recording is best effort on the request path: a failed audit write is
//! logged, and never turns a good request into an error.

use crate::store::audit::{self as rows, AuditRow};
use crate::store::{Db, DbConnection, StoreError};

/// Records `action` on `subject` by `actor` at `at` (Unix seconds). The
/// actor is a person at the CLI (`cli`), an admin API client
/// (`admin:CLIENT`), the scheduler, or the public (a login attempt).
pub fn record(
    conn: &mut DbConnection,
    at: i64,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
) -> Result<(), StoreError> {
    rows::insert(
        conn,
        &AuditRow {
            id: crate::secrets::random_token(12),
            at,
            actor: truncate(actor),
            action: action.to_owned(),
            subject: truncate(subject),
            detail: truncate(detail),
        },
    )
}

/// Records from async code, logging instead of failing.
pub async fn record_async(
    db: &Db,
    at: i64,
    actor: String,
    action: &'static str,
    subject: String,
    detail: String,
) {
    let result = db
        .write(move |conn| record(conn, at, &actor, action, &subject, &detail))
        .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, action, "could not write the audit event");
    }
}

/// Records from blocking code, logging instead of failing.
pub fn record_or_log(
    conn: &mut DbConnection,
    at: i64,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
) {
    if let Err(e) = record(conn, at, actor, action, subject, detail) {
        tracing::warn!(error = %e, action, "could not write the audit event");
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(256).collect()
}
