//! `signing_keys` rows and their queries.

use std::fmt;
use std::str::FromStr;

use diesel::prelude::*;

use super::schema::signing_keys;
use super::{DbConnection, StoreError};

/// The JWS algorithms Portcullis signs with (RFC 7518 §3, RFC 8037 §3.1).
/// Defined here, where rows carry it; the key material each needs is in
/// `keys::material`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SigningAlg {
    Rs256,
    Ps256,
    Es256,
    EdDsa,
}

impl SigningAlg {
    pub const ALL: [SigningAlg; 4] = [
        SigningAlg::Rs256,
        SigningAlg::Ps256,
        SigningAlg::Es256,
        SigningAlg::EdDsa,
    ];

    /// The JWS `alg` name, as headers, JWKs and discovery spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::Rs256 => "RS256",
            SigningAlg::Ps256 => "PS256",
            SigningAlg::Es256 => "ES256",
            SigningAlg::EdDsa => "EdDSA",
        }
    }
}

impl fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SigningAlg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        SigningAlg::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<&str> = SigningAlg::ALL.iter().map(|a| a.as_str()).collect();
                format!(
                    "unsupported signing algorithm `{s}` (expected one of {})",
                    names.join(", ")
                )
            })
    }
}

impl TryFrom<String> for SigningAlg {
    type Error = StoreError;
    fn try_from(text: String) -> Result<Self, StoreError> {
        text.parse().map_err(StoreError::Corrupt)
    }
}

impl From<SigningAlg> for String {
    fn from(alg: SigningAlg) -> String {
        alg.as_str().to_owned()
    }
}

/// Where a key is in its lifecycle: `next` (published, not signing) →
/// `active` (signing) → `retired` (published until its tokens expire);
/// `revoked` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    Next,
    Active,
    Retired,
    Revoked,
}

impl KeyState {
    pub const ALL: [KeyState; 4] = [
        KeyState::Next,
        KeyState::Active,
        KeyState::Retired,
        KeyState::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Active => "active",
            KeyState::Retired => "retired",
            KeyState::Revoked => "revoked",
        }
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for KeyState {
    type Error = StoreError;
    fn try_from(text: String) -> Result<Self, StoreError> {
        KeyState::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown key state `{text}`")))
    }
}

impl From<KeyState> for String {
    fn from(state: KeyState) -> String {
        state.as_str().to_owned()
    }
}

const NEXT: &str = "next";
const ACTIVE: &str = "active";
const RETIRED: &str = "retired";
const REVOKED: &str = "revoked";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct SigningKeyRow {
    pub kid: String,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub alg: SigningAlg,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub state: KeyState,
    pub public_jwk: String,
    pub sealed_private: Vec<u8>,
    pub created_at: i64,
    pub activated_at: Option<i64>,
    pub retired_at: Option<i64>,
    pub publish_until: Option<i64>,
}

pub fn insert(conn: &mut DbConnection, row: &SigningKeyRow) -> Result<(), StoreError> {
    diesel::insert_into(signing_keys::table)
        .values(row.clone())
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
                .eq_any([NEXT, ACTIVE])
                .or(signing_keys::state
                    .eq(RETIRED)
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
    alg: SigningAlg,
    now: i64,
    publish_until: i64,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        signing_keys::table
            .filter(signing_keys::alg.eq(alg.as_str()))
            .filter(signing_keys::state.eq(ACTIVE)),
    )
    .set((
        signing_keys::state.eq(RETIRED),
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
        .filter(signing_keys::alg.eq(row.alg.as_str()))
        .filter(signing_keys::state.eq(ACTIVE))
        .select(signing_keys::kid)
        .load(conn)?;
    conn.transaction::<_, StoreError, _>(|conn| {
        retire_active(conn, row.alg, row.created_at, retired_publish_until)?;
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
                .filter(signing_keys::state.eq(ACTIVE)),
        )
        .set((
            signing_keys::state.eq(RETIRED),
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
                .filter(signing_keys::state.eq(NEXT)),
        )
        .set((
            signing_keys::state.eq(ACTIVE),
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
            .filter(signing_keys::state.ne(REVOKED)),
    )
    .set((
        signing_keys::state.eq(REVOKED),
        signing_keys::retired_at.eq(now),
        signing_keys::publish_until.eq(now),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_round_trip_and_unknown_ones_are_corrupt() {
        for alg in SigningAlg::ALL {
            assert_eq!(SigningAlg::try_from(String::from(alg)).unwrap(), alg);
        }
        for state in KeyState::ALL {
            assert_eq!(KeyState::try_from(String::from(state)).unwrap(), state);
        }
        assert_eq!(
            [NEXT, ACTIVE, RETIRED, REVOKED],
            KeyState::ALL.map(KeyState::as_str)
        );
        assert!(matches!(
            KeyState::try_from("sleeping".to_owned()),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            SigningAlg::try_from("HS256".to_owned()),
            Err(StoreError::Corrupt(_))
        ));
        assert_eq!("es256".parse::<SigningAlg>().unwrap(), SigningAlg::Es256);
        assert_eq!("eddsa".parse::<SigningAlg>().unwrap(), SigningAlg::EdDsa);
        assert_eq!("EDDSA".parse::<SigningAlg>().unwrap(), SigningAlg::EdDsa);
        assert_eq!("ps256".parse::<SigningAlg>().unwrap(), SigningAlg::Ps256);
    }
}
