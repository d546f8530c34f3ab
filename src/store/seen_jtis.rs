//! `seen_jtis` rows: JWT ids (client assertions, RFC 7523 §3; DPoP proofs,
//! RFC 9449 §11.1) accepted once. The primary key makes the first insert win
//! at every replica; a row lives as long as its JWT could still be accepted.

use diesel::prelude::*;

use super::schema::seen_jtis as seen;
use super::{on_backend, DbConnection, StoreError};

/// Records `jti_hash` until `expires_at`; `false` when it was seen already
/// (and has not expired: a purged row was past any JWT's acceptance window).
pub fn first_use(
    conn: &mut DbConnection,
    jti_hash: &str,
    expires_at: i64,
) -> Result<bool, StoreError> {
    let inserted = on_backend!(conn, |c| {
        diesel::insert_into(seen::table)
            .values((seen::jti_hash.eq(jti_hash), seen::expires_at.eq(expires_at)))
            .on_conflict_do_nothing()
            .execute(c)
    })?;
    Ok(inserted == 1)
}

pub fn delete_expired(conn: &mut DbConnection, now: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(seen::table.filter(seen::expires_at.le(now))).execute(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{DatabaseUrl, Db};

    #[tokio::test]
    async fn a_jti_is_accepted_once_until_it_is_purged() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&DatabaseUrl::Sqlite(dir.path().join("jti.db")), 2).unwrap();
        db.migrate().unwrap();
        let outcome = db
            .write(|conn| {
                let first = first_use(conn, "h1", 100)?;
                let again = first_use(conn, "h1", 100)?;
                let other = first_use(conn, "h2", 100)?;
                let purged = delete_expired(conn, 100)?;
                let after = first_use(conn, "h1", 200)?;
                Ok::<_, StoreError>((first, again, other, purged, after))
            })
            .await
            .unwrap();
        assert_eq!(outcome, (true, false, true, 2, true));
    }
}
