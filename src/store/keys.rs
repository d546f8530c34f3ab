//! `signing_keys` rows and their queries.

use diesel::prelude::*;

use super::schema::signing_keys;
use super::{DbConnection, StoreError};

pub const STATE_NEXT: &str = "next";
pub const STATE_ACTIVE: &str = "active";
pub const STATE_RETIRED: &str = "retired";
pub const STATE_REVOKED: &str = "revoked";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct SigningKeyRow {
    pub kid: String,
    pub alg: String,
    pub state: String,
    pub public_jwk: String,
    pub sealed_private: Vec<u8>,
    pub created_at: i64,
    pub activated_at: Option<i64>,
    pub retired_at: Option<i64>,
    pub publish_until: Option<i64>,
}

pub fn insert(conn: &mut DbConnection, row: &SigningKeyRow) -> Result<(), StoreError> {
    diesel::insert_into(signing_keys::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
        .map_err(|e| StoreError::conflict_on_unique(e, "active signing key"))
}

pub fn list(conn: &mut DbConnection) -> Result<Vec<SigningKeyRow>, StoreError> {
    Ok(signing_keys::table
        .order((signing_keys::alg.asc(), signing_keys::created_at.desc()))
        .select(SigningKeyRow::as_select())
        .load(conn)?)
}

/// Keys a relying party may need: upcoming, signing, and retired ones whose
/// tokens may still be alive.
pub fn list_published(conn: &mut DbConnection, now: i64) -> Result<Vec<SigningKeyRow>, StoreError> {
    Ok(signing_keys::table
        .filter(
            signing_keys::state
                .eq_any([STATE_NEXT, STATE_ACTIVE])
                .or(signing_keys::state
                    .eq(STATE_RETIRED)
                    .and(signing_keys::publish_until.gt(now))),
        )
        .order((signing_keys::alg.asc(), signing_keys::created_at.desc()))
        .select(SigningKeyRow::as_select())
        .load(conn)?)
}

pub fn find(conn: &mut DbConnection, kid: &str) -> Result<Option<SigningKeyRow>, StoreError> {
    Ok(signing_keys::table
        .find(kid)
        .select(SigningKeyRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// Retires the active key of `alg`, if any. Returns how many keys changed.
pub fn retire_active(
    conn: &mut DbConnection,
    alg: &str,
    now: i64,
    publish_until: i64,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        signing_keys::table
            .filter(signing_keys::alg.eq(alg))
            .filter(signing_keys::state.eq(STATE_ACTIVE)),
    )
    .set((
        signing_keys::state.eq(STATE_RETIRED),
        signing_keys::retired_at.eq(now),
        signing_keys::publish_until.eq(publish_until),
    ))
    .execute(conn)?)
}

/// Stores `row` as the active key of its algorithm and retires the previous
/// one, atomically; returns the kids retired. The write comes first in the
/// transaction, so SQLite takes its write lock at once rather than upgrading
/// a read lock (which fails instead of waiting).
pub fn activate(
    conn: &mut DbConnection,
    row: &SigningKeyRow,
    retired_publish_until: i64,
) -> Result<Vec<String>, StoreError> {
    // Read outside the transaction: only used to report what was retired.
    let previous: Vec<String> = signing_keys::table
        .filter(signing_keys::alg.eq(&row.alg))
        .filter(signing_keys::state.eq(STATE_ACTIVE))
        .select(signing_keys::kid)
        .load(conn)?;
    conn.transaction::<_, StoreError, _>(|conn| {
        retire_active(conn, &row.alg, row.created_at, retired_publish_until)?;
        insert(conn, row)
    })?;
    Ok(previous)
}

/// Retires `active_kid` and makes `next_kid` active, atomically, provided
/// both are still in those states: of replicas racing, one wins and the
/// others change nothing.
pub fn promote(
    conn: &mut DbConnection,
    active_kid: &str,
    next_kid: &str,
    now: i64,
    retired_publish_until: i64,
) -> Result<bool, StoreError> {
    let result = conn.transaction::<_, StoreError, _>(|conn| {
        let retired = diesel::update(
            signing_keys::table
                .find(active_kid)
                .filter(signing_keys::state.eq(STATE_ACTIVE)),
        )
        .set((
            signing_keys::state.eq(STATE_RETIRED),
            signing_keys::retired_at.eq(now),
            signing_keys::publish_until.eq(retired_publish_until),
        ))
        .execute(conn)?;
        if retired != 1 {
            return Err(StoreError::Conflict("rotation"));
        }
        let activated = diesel::update(
            signing_keys::table
                .find(next_kid)
                .filter(signing_keys::state.eq(STATE_NEXT)),
        )
        .set((
            signing_keys::state.eq(STATE_ACTIVE),
            signing_keys::activated_at.eq(now),
        ))
        .execute(conn)?;
        if activated != 1 {
            return Err(StoreError::Conflict("rotation"));
        }
        Ok(())
    });
    match result {
        Ok(()) => Ok(true),
        // Rolled back: another replica rotated first.
        Err(StoreError::Conflict(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Replaces the sealed private keys of the given kids, in one transaction.
pub fn replace_sealed(
    conn: &mut DbConnection,
    sealed: &[(String, Vec<u8>)],
) -> Result<(), StoreError> {
    conn.transaction::<_, StoreError, _>(|conn| {
        for (kid, blob) in sealed {
            diesel::update(signing_keys::table.find(kid))
                .set(signing_keys::sealed_private.eq(blob))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// Marks a key revoked; it leaves the JWKS at once. Returns whether it existed
/// and was not already revoked.
pub fn revoke(conn: &mut DbConnection, kid: &str, now: i64) -> Result<bool, StoreError> {
    let n = diesel::update(
        signing_keys::table
            .find(kid)
            .filter(signing_keys::state.ne(STATE_REVOKED)),
    )
    .set((
        signing_keys::state.eq(STATE_REVOKED),
        signing_keys::retired_at.eq(now),
        signing_keys::publish_until.eq(now),
    ))
    .execute(conn)?;
    Ok(n == 1)
}
