//! `login_attempts` rows: the brute-force counters.

use diesel::prelude::*;

use super::schema::login_attempts as attempts;
use super::{DbConnection, StoreError};

/// Failures counted for `key` within the current window, if any.
pub fn failures(
    conn: &mut DbConnection,
    key: &str,
    window_start_after: i64,
) -> Result<(i64, i64), StoreError> {
    let row: Option<(i64, i64, i64)> = attempts::table
        .find(key)
        .select((
            attempts::failures,
            attempts::window_start,
            attempts::last_failure_at,
        ))
        .get_result(conn)
        .optional()?;
    Ok(match row {
        Some((n, start, last)) if start > window_start_after => (n, last),
        _ => (0, 0),
    })
}

/// Counts one failure for `key`; a window older than `window_start_after`
/// starts again at one. The update comes first, so SQLite takes its write
/// lock at once.
pub fn record_failure(
    conn: &mut DbConnection,
    key: &str,
    now: i64,
    window_start_after: i64,
) -> Result<(), StoreError> {
    conn.transaction::<_, StoreError, _>(|conn| {
        let fresh = diesel::update(
            attempts::table
                .find(key)
                .filter(attempts::window_start.gt(window_start_after)),
        )
        .set((
            attempts::failures.eq(attempts::failures + 1),
            attempts::last_failure_at.eq(now),
        ))
        .execute(conn)?;
        if fresh == 1 {
            return Ok(());
        }
        diesel::delete(attempts::table.find(key)).execute(conn)?;
        diesel::insert_into(attempts::table)
            .values((
                attempts::key.eq(key),
                attempts::failures.eq(1i64),
                attempts::window_start.eq(now),
                attempts::last_failure_at.eq(now),
            ))
            .execute(conn)?;
        Ok(())
    })
}

pub fn reset(conn: &mut DbConnection, key: &str) -> Result<(), StoreError> {
    diesel::delete(attempts::table.find(key)).execute(conn)?;
    Ok(())
}

pub fn delete_stale(
    conn: &mut DbConnection,
    window_start_before: i64,
) -> Result<usize, StoreError> {
    Ok(
        diesel::delete(attempts::table.filter(attempts::window_start.le(window_start_before)))
            .execute(conn)?,
    )
}
