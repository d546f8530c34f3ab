//! `refresh_tokens` rows and their queries. Only the SHA-256 hash of a token
//! is stored; a database dump cannot be replayed against the token endpoint.

use diesel::backend::Backend;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, HasSqlType, Nullable, Text};
use diesel::sqlite::Sqlite;

use super::schema::{refresh_tokens as rt, users};
use super::users::UserRow;
use super::{on_backend, static_query, DbConnection, StoreError};

// Not `Insertable`: rows are written by `InsertRow` below, one statement
// that diesel keeps prepared.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = rt)]
pub struct RefreshTokenRow {
    pub id: String,
    pub token_hash: String,
    pub family_id: String,
    pub parent_id: Option<String>,
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    pub auth_time: i64,
    pub issued_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// The SSO session the family was born in (authorization-code flow);
    /// logging out of it revokes the family.
    pub session_id: Option<String>,
    /// The resources (RFC 8707) the family was granted for, space-separated;
    /// empty when none were asked for.
    pub resources: String,
    /// The DPoP key (RFC 7638 thumbprint) the family is bound to (RFC 9449
    /// §5: a public client's refresh tokens need its proof).
    pub dpop_jkt: Option<String>,
    /// How the login behind the family was proven (RFC 8176, space-separated).
    pub amr: String,
}

pub fn insert(conn: &mut DbConnection, row: &RefreshTokenRow) -> Result<(), StoreError> {
    on_backend!(conn, |c| InsertRow(row).execute(c))
        .map(|_| ())
        .map_err(|e| StoreError::conflict_on_unique(e, "refresh token"))
}

pub fn find_by_hash(
    conn: &mut DbConnection,
    token_hash: &str,
) -> Result<Option<RefreshTokenRow>, StoreError> {
    // In the macro: `as_select()` is typed by the backend that runs it.
    Ok(on_backend!(conn, |c| {
        rt::table
            .filter(rt::token_hash.eq(token_hash))
            .select(RefreshTokenRow::as_select())
            .get_result(c)
            .optional()
    })?)
}

/// A token and its user in one query (one round trip on PostgreSQL).
pub fn find_with_user(
    conn: &mut DbConnection,
    token_hash: &str,
) -> Result<Option<(RefreshTokenRow, UserRow)>, StoreError> {
    Ok(on_backend!(conn, |c| {
        rt::table
            .inner_join(users::table)
            .filter(rt::token_hash.eq(token_hash))
            .select((RefreshTokenRow::as_select(), UserRow::as_select()))
            .get_result(c)
            .optional()
    })?)
}

pub fn revoke_family(
    conn: &mut DbConnection,
    family_id: &str,
    now: i64,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        rt::table
            .filter(rt::family_id.eq(family_id))
            .filter(rt::revoked_at.is_null()),
    )
    .set(rt::revoked_at.eq(now))
    .execute(conn)?)
}

pub fn revoke_for_user(
    conn: &mut DbConnection,
    user_id: &str,
    now: i64,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        rt::table
            .filter(rt::user_id.eq(user_id))
            .filter(rt::revoked_at.is_null()),
    )
    .set(rt::revoked_at.eq(now))
    .execute(conn)?)
}

pub fn revoke_for_session(
    conn: &mut DbConnection,
    session_id: &str,
    now: i64,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        rt::table
            .filter(rt::session_id.eq(session_id))
            .filter(rt::revoked_at.is_null()),
    )
    .set(rt::revoked_at.eq(now))
    .execute(conn)?)
}

/// The clients a user holds live refresh tokens for (neither spent,
/// revoked nor expired), one `(client_id, family_id)` per token.
pub fn live_clients_of_user(
    conn: &mut DbConnection,
    user_id: &str,
    now: i64,
) -> Result<Vec<(String, String)>, StoreError> {
    Ok(rt::table
        .filter(rt::user_id.eq(user_id))
        .filter(rt::revoked_at.is_null())
        .filter(rt::used_at.is_null())
        .filter(rt::expires_at.gt(now))
        .select((rt::client_id, rt::family_id))
        .load(conn)?)
}

/// Revokes every refresh token a user holds for one client.
pub fn revoke_for_user_client(
    conn: &mut DbConnection,
    user_id: &str,
    client_id: &str,
    now: i64,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        rt::table
            .filter(rt::user_id.eq(user_id))
            .filter(rt::client_id.eq(client_id))
            .filter(rt::revoked_at.is_null()),
    )
    .set(rt::revoked_at.eq(now))
    .execute(conn)?)
}

/// Housekeeping: rows past their expiry are useless, even for reuse detection
/// (an expired token is refused before reuse is considered).
pub fn delete_expired(conn: &mut DbConnection, now: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(rt::table.filter(rt::expires_at.le(now))).execute(conn)?)
}

/// Spends `old_id` and stores its successor, atomically. Returns false (and
/// stores nothing) when the old token was already spent or revoked: of N
/// concurrent rotations of one token exactly one succeeds.
///
/// PostgreSQL does it in one statement, one round trip instead of four
/// (BEGIN, UPDATE, INSERT, COMMIT): the INSERT takes its row from the
/// UPDATE's `RETURNING`, so it inserts nothing when the UPDATE matched
/// nothing, and a failed INSERT undoes the UPDATE. SQLite has no
/// data-modifying CTE; there the conditional UPDATE comes first in a
/// transaction, so SQLite takes the write lock at the start.
pub fn rotate(
    conn: &mut DbConnection,
    old_id: &str,
    successor: &RefreshTokenRow,
    now: i64,
) -> Result<bool, StoreError> {
    let spend = Spend { id: old_id, now };
    match conn {
        DbConnection::Pg(pg) => {
            let inserted = SpendAndInsert {
                spend,
                row: successor,
            }
            .execute(pg)
            .map_err(|e| StoreError::conflict_on_unique(e, "refresh token"))?;
            Ok(inserted == 1)
        }
        DbConnection::Sqlite(lite) => lite.transaction::<_, StoreError, _>(|lite| {
            if spend.execute(lite)? != 1 {
                return Ok(false);
            }
            InsertRow(successor)
                .execute(lite)
                .map_err(|e| StoreError::conflict_on_unique(e, "refresh token"))?;
            Ok(true)
        }),
    }
}

// The rotation's statements as query types of their own. diesel keeps a
// prepared statement only for a query whose type names it: its UPDATE never
// qualifies, and its INSERT of a row leaves `None` columns out of the SQL,
// so both were parsed and planned again on every refresh (8 % of the SQLite
// writer's time). These always write the same SQL, so they are prepared
// once per connection.

/// `UPDATE … SET used_at`: spends a token that is neither spent nor revoked.
struct Spend<'a> {
    id: &'a str,
    now: i64,
}

/// `INSERT` of every column of one row.
struct InsertRow<'a>(&'a RefreshTokenRow);

/// PostgreSQL: [`Spend`], and [`InsertRow`] only if it spent.
struct SpendAndInsert<'a> {
    spend: Spend<'a>,
    row: &'a RefreshTokenRow,
}

const COLUMNS: &str = "id, token_hash, family_id, parent_id, client_id, user_id, scope, \
                       auth_time, issued_at, expires_at, used_at, revoked_at, session_id, \
                       resources, dpop_jkt, amr";

impl Spend<'_> {
    fn push<'b, DB>(&'b self, out: &mut AstPass<'_, 'b, DB>) -> QueryResult<()>
    where
        DB: Backend + HasSqlType<Text> + HasSqlType<BigInt>,
        str: ToSql<Text, DB>,
        i64: ToSql<BigInt, DB>,
    {
        out.push_sql("UPDATE refresh_tokens SET used_at = ");
        out.push_bind_param::<BigInt, _>(&self.now)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<Text, _>(self.id)?;
        out.push_sql(" AND used_at IS NULL AND revoked_at IS NULL");
        Ok(())
    }
}

/// The row's values, comma-separated, in the order of [`COLUMNS`].
fn push_values<'b, DB>(row: &'b RefreshTokenRow, out: &mut AstPass<'_, 'b, DB>) -> QueryResult<()>
where
    DB: Backend + HasSqlType<Text> + HasSqlType<BigInt>,
    String: ToSql<Text, DB>,
    i64: ToSql<BigInt, DB>,
    Option<String>: ToSql<Nullable<Text>, DB>,
    Option<i64>: ToSql<Nullable<BigInt>, DB>,
{
    // Every field by name, no `..`: a column added to the row type does
    // not compile here until the statement stores it too.
    let RefreshTokenRow {
        id,
        token_hash,
        family_id,
        parent_id,
        client_id,
        user_id,
        scope,
        auth_time,
        issued_at,
        expires_at,
        used_at,
        revoked_at,
        session_id,
        resources,
        dpop_jkt,
        amr,
    } = row;
    macro_rules! bind_each {
        ($first_type:ty = $first:expr $(, $sql_type:ty = $value:expr)*) => {
            out.push_bind_param::<$first_type, _>($first)?;
            $(
                out.push_sql(", ");
                out.push_bind_param::<$sql_type, _>($value)?;
            )*
        };
    }
    bind_each!(
        Text = id,
        Text = token_hash,
        Text = family_id,
        Nullable<Text> = parent_id,
        Text = client_id,
        Text = user_id,
        Text = scope,
        BigInt = auth_time,
        BigInt = issued_at,
        BigInt = expires_at,
        Nullable<BigInt> = used_at,
        Nullable<BigInt> = revoked_at,
        Nullable<Text> = session_id,
        Text = resources,
        Nullable<Text> = dpop_jkt,
        Text = amr
    );
    Ok(())
}

impl QueryFragment<Sqlite> for Spend<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        self.push(&mut out)
    }
}

/// On both backends (so `insert` can run on either).
macro_rules! insert_row_on {
    ($($backend:ty),*) => {$(
        impl QueryFragment<$backend> for InsertRow<'_> {
            fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, $backend>) -> QueryResult<()> {
                out.push_sql("INSERT INTO refresh_tokens (");
                out.push_sql(COLUMNS);
                out.push_sql(") VALUES (");
                push_values(self.0, &mut out)?;
                out.push_sql(")");
                Ok(())
            }
        }
    )*};
}
insert_row_on!(Sqlite, Pg);

impl QueryFragment<Pg> for SpendAndInsert<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH spent AS (");
        self.spend.push(&mut out)?;
        out.push_sql(" RETURNING id) INSERT INTO refresh_tokens (");
        out.push_sql(COLUMNS);
        out.push_sql(") SELECT ");
        push_values(self.row, &mut out)?;
        out.push_sql(" FROM spent");
        Ok(())
    }
}

static_query!(Spend, InsertRow, SpendAndInsert);

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use diesel::connection::InstrumentationEvent;

    use super::*;
    use crate::store::{DatabaseUrl, Db};

    /// A token whose every column differs from the same column of another
    /// token, and whose nullable columns hold values: a statement that binds
    /// two columns in each other's places cannot read back equal.
    fn token(n: i64, parent: Option<&str>) -> RefreshTokenRow {
        RefreshTokenRow {
            id: format!("id-{n}"),
            token_hash: format!("hash-{n}"),
            family_id: "family".into(),
            parent_id: parent.map(str::to_string),
            client_id: "app".into(),
            user_id: "u1".into(),
            scope: format!("openid s{n}"),
            auth_time: 1_000 + n,
            issued_at: 2_000 + n,
            expires_at: 3_000 + n,
            used_at: None,
            revoked_at: None,
            session_id: Some(format!("session-{n}")),
            resources: format!("https://api-{n}.example"),
            dpop_jkt: Some(format!("jkt-{n}")),
            amr: format!("pwd otp{n}"),
        }
    }

    #[tokio::test]
    async fn rotation_stores_every_column_and_prepares_its_statements_once_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&DatabaseUrl::Sqlite(dir.path().join("rt.db")), 2).unwrap();
        db.migrate().unwrap();
        #[derive(Debug, PartialEq)]
        enum Seen {
            Ran,
            Prepared,
        }
        let events: Arc<Mutex<Vec<(Seen, String)>>> = Arc::default();
        let seen = events.clone();
        db.write(move |conn| -> Result<(), StoreError> {
            // The rows the token's foreign keys point at.
            crate::store::users::insert(
                conn,
                &crate::store::users::UserRow {
                    id: "u1".into(),
                    username: "alice".into(),
                    email: None,
                    name: None,
                    password_hash: "not used".into(),
                    disabled: false,
                    created_at: 0,
                    updated_at: 0,
                },
            )?;
            crate::store::clients::insert(
                conn,
                crate::store::clients::ClientRow {
                    client_id: "app".into(),
                    name: "App".into(),
                    secret_hash: None,
                    grant_types: crate::store::clients::SpaceList(vec![
                        crate::store::clients::GrantType::RefreshToken,
                    ]),
                    redirect_uris: Default::default(),
                    scope: "openid".into(),
                    audience: None,
                    signing_alg: crate::store::SigningAlg::Es256,
                    created_at: 0,
                    consent: false,
                    post_logout_redirect_uris: Default::default(),
                    resources: Default::default(),
                    exchange_audiences: Default::default(),
                    exchange_impersonation: false,
                    dynamic: false,
                    auth_method: crate::store::clients::AuthMethod::None,
                    jwks: None,
                    jwks_uri: None,
                    require_par: false,
                    require_dpop: false,
                    profile: None,
                    require_mfa: false,
                    registration_token_hash: None,
                    metadata: "{}".into(),
                },
            )?;
            let DbConnection::Sqlite(lite) = &mut *conn else {
                unreachable!("a SQLite URL")
            };
            lite.set_instrumentation(move |event: InstrumentationEvent<'_>| {
                let seen_now = match event {
                    InstrumentationEvent::StartQuery { query, .. } => {
                        let text = query.to_string();
                        let sql = text.split(" -- binds:").next().unwrap_or_default();
                        (Seen::Ran, sql.to_string())
                    }
                    InstrumentationEvent::CacheQuery { sql, .. } => {
                        (Seen::Prepared, sql.to_string())
                    }
                    _ => return,
                };
                seen.lock().unwrap().push(seen_now);
            });

            let first = token(1, None);
            insert(conn, &first)?;
            assert_eq!(find_by_hash(conn, "hash-1")?, Some(first.clone()));

            let second = token(2, Some("id-1"));
            assert!(rotate(conn, "id-1", &second, 4_000)?);
            let spent = RefreshTokenRow {
                used_at: Some(4_000),
                ..first
            };
            assert_eq!(find_by_hash(conn, "hash-1")?, Some(spent));
            assert_eq!(find_by_hash(conn, "hash-2")?, Some(second));

            // A spent token rotates no more, and its would-be successor is
            // not stored.
            assert!(!rotate(conn, "id-1", &token(3, Some("id-1")), 4_001)?);
            assert_eq!(find_by_hash(conn, "hash-3")?, None);
            assert!(rotate(conn, "id-2", &token(4, Some("id-2")), 4_002)?);

            let spent_and_revoked = RefreshTokenRow {
                used_at: Some(5_000),
                revoked_at: Some(6_000),
                ..token(5, Some("id-4"))
            };
            insert(conn, &spent_and_revoked)?;
            assert_eq!(find_by_hash(conn, "hash-5")?, Some(spent_and_revoked));
            Ok(())
        })
        .await
        .unwrap();
        // Four INSERTs and three UPDATEs ran: two statements, each prepared
        // once and kept.
        let events = events.lock().unwrap();
        let writes = |sql: &String| {
            let sql = sql.replace(['`', '"'], "").to_lowercase();
            sql.starts_with("insert into refresh_tokens")
                || sql.starts_with("update refresh_tokens")
        };
        let (prepared, ran): (Vec<_>, Vec<_>) = events
            .iter()
            .filter(|(_, sql)| writes(sql))
            .partition(|(seen, _)| *seen == Seen::Prepared);
        let prepared: Vec<&String> = prepared.into_iter().map(|(_, sql)| sql).collect();
        assert_eq!(ran.len(), 7, "{events:?}");
        assert_eq!(prepared.len(), 2, "{events:?}");
        assert!(
            ran.iter().all(|(_, sql)| prepared.contains(&sql)),
            "{events:?}"
        );
    }
}
