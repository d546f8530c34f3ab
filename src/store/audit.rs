//! `audit_events` rows: an append-only trail of security-relevant events.

use diesel::prelude::*;

use super::schema::audit_events as audit;
use super::{DbConnection, StoreError};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = audit)]
pub struct AuditRow {
    pub id: String,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
}

pub fn insert(conn: &mut DbConnection, row: &AuditRow) -> Result<(), StoreError> {
    diesel::insert_into(audit::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Events at or after `since`, oldest first, at most `limit`.
pub fn list_since(
    conn: &mut DbConnection,
    since: i64,
    limit: i64,
) -> Result<Vec<AuditRow>, StoreError> {
    Ok(audit::table
        .filter(audit::at.ge(since))
        .order((audit::at.asc(), audit::id.asc()))
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)?)
}
