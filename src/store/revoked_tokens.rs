//! `revoked_access_tokens` rows: access tokens denied by `jti` until they
//! expire (RFC 7009 revocation of a self-contained token).

use diesel::prelude::*;

use super::schema::revoked_access_tokens as revoked;
use super::{on_backend, DbConnection, StoreError};

/// Denies an access token until it expires. Revoking twice is not an error.
pub fn revoke(conn: &mut DbConnection, jti: &str, expires_at: i64) -> Result<(), StoreError> {
    let exists: Option<String> = revoked::table
        .find(jti)
        .select(revoked::jti)
        .get_result(conn)
        .optional()?;
    if exists.is_none() {
        match diesel::insert_into(revoked::table)
            .values((revoked::jti.eq(jti), revoked::expires_at.eq(expires_at)))
            .execute(conn)
        {
            Ok(_) => {}
            Err(e) => match StoreError::conflict_on_unique(e, "revoked token") {
                StoreError::Conflict(_) => {}
                other => return Err(other),
            },
        }
    }
    Ok(())
}

pub fn is_revoked(conn: &mut DbConnection, jti: &str) -> Result<bool, StoreError> {
    let query = revoked::table.find(jti).select(revoked::jti);
    let found: Option<String> = on_backend!(conn, |c| query.get_result(c).optional())?;
    Ok(found.is_some())
}

pub fn delete_expired(conn: &mut DbConnection, now: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(revoked::table.filter(revoked::expires_at.le(now))).execute(conn)?)
}
