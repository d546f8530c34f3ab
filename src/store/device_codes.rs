//! `device_codes` rows (RFC 8628): one per device authorization request.
//! The device code is stored as its SHA-256; the user code is short-lived,
//! unique among stored rows, and looked up only while pending.

use std::fmt;
use std::str::FromStr;

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::sql_types::{BigInt, Bool, Text};
use diesel::sqlite::Sqlite;

use super::refresh_tokens::{self, RefreshTokenRow};
use super::schema::device_codes as dc;
use super::{on_backend, static_query, DbConnection, StoreError};

/// Where a device authorization request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    /// Waiting for the person to approve or deny.
    Pending,
    Approved,
    Denied,
    /// Approved and exchanged for tokens: never again.
    Spent,
}

impl DeviceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Pending => "pending",
            DeviceStatus::Approved => "approved",
            DeviceStatus::Denied => "denied",
            DeviceStatus::Spent => "spent",
        }
    }
}

impl fmt::Display for DeviceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeviceStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [
            DeviceStatus::Pending,
            DeviceStatus::Approved,
            DeviceStatus::Denied,
            DeviceStatus::Spent,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
        .ok_or_else(|| format!("unknown device code status `{s}`"))
    }
}

impl TryFrom<String> for DeviceStatus {
    type Error = StoreError;
    fn try_from(s: String) -> Result<Self, StoreError> {
        s.parse().map_err(StoreError::Corrupt)
    }
}

impl From<DeviceStatus> for String {
    fn from(s: DeviceStatus) -> String {
        s.as_str().to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = dc)]
pub struct DeviceCodeRow {
    pub device_code_hash: String,
    pub user_code: String,
    pub client_id: String,
    pub scope: String,
    pub resources: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub poll_interval: i64,
    pub last_polled_at: Option<i64>,
    /// Answered `slow_down` since its last on-time poll.
    pub slowed: bool,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub status: DeviceStatus,
    pub user_id: Option<String>,
    pub session_id: Option<String>,
    pub auth_time: Option<i64>,
    pub decided_at: Option<i64>,
    /// How the approving session's login was proven (RFC 8176).
    pub amr: Option<String>,
}

/// Stores a new request; `Conflict` when its user code is taken.
pub fn insert(conn: &mut DbConnection, row: DeviceCodeRow) -> Result<(), StoreError> {
    diesel::insert_into(dc::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
        .map_err(|e| StoreError::conflict_on_unique(e, "user code"))
}

/// On the concrete connection: a device polls this several times a second
/// per code, and there the statement is prepared once (see `store/mod.rs`).
pub fn find_by_hash(
    conn: &mut DbConnection,
    device_code_hash: &str,
) -> Result<Option<DeviceCodeRow>, StoreError> {
    Ok(on_backend!(conn, |c| {
        dc::table
            .find(device_code_hash)
            .select(DeviceCodeRow::as_select())
            .get_result(c)
            .optional()
    })?)
}

/// The pending, unexpired request a person's user code names.
pub fn find_pending_by_user_code(
    conn: &mut DbConnection,
    user_code: &str,
    now: i64,
) -> Result<Option<DeviceCodeRow>, StoreError> {
    Ok(dc::table
        .filter(dc::user_code.eq(user_code))
        .filter(dc::status.eq(DeviceStatus::Pending.as_str()))
        .filter(dc::expires_at.gt(now))
        .select(DeviceCodeRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// Records a poll: on time (`early` false), or too early the first time
/// since the last on-time poll, which makes the interval `step` longer and
/// marks the code `slowed` (an early poll of a code already slowed needs no
/// write at all). Conditional on what the caller read, so that of two polls
/// racing (at two replicas) only one counts. Returns whether this poll's
/// update won.
pub fn record_poll(
    conn: &mut DbConnection,
    row: &DeviceCodeRow,
    early: bool,
    step: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let poll = RecordPoll {
        hash: &row.device_code_hash,
        interval: row.poll_interval + if early { step } else { 0 },
        slowed: early,
        now,
        read_interval: row.poll_interval,
        read_last: row.last_polled_at.unwrap_or(NEVER_POLLED),
    };
    let n = on_backend!(conn, |c| poll.execute(c))?;
    Ok(n == 1)
}

/// `last_polled_at` of a code never polled, as [`RecordPoll`] compares it.
const NEVER_POLLED: i64 = -1;

/// The poll's UPDATE as a query type of its own: always the same SQL, so
/// prepared once per connection (diesel's own UPDATE is prepared anew on
/// every call — a sixth of the SQLite writer's time under polling load).
struct RecordPoll<'a> {
    hash: &'a str,
    interval: i64,
    slowed: bool,
    now: i64,
    read_interval: i64,
    read_last: i64,
}

macro_rules! record_poll_on {
    ($($backend:ty),*) => {$(
        impl QueryFragment<$backend> for RecordPoll<'_> {
            fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, $backend>) -> QueryResult<()> {
                out.push_sql("UPDATE device_codes SET poll_interval = ");
                out.push_bind_param::<BigInt, _>(&self.interval)?;
                out.push_sql(", slowed = ");
                out.push_bind_param::<Bool, _>(&self.slowed)?;
                out.push_sql(", last_polled_at = ");
                out.push_bind_param::<BigInt, _>(&self.now)?;
                out.push_sql(" WHERE device_code_hash = ");
                out.push_bind_param::<Text, _>(self.hash)?;
                out.push_sql(" AND status = 'pending' AND poll_interval = ");
                out.push_bind_param::<BigInt, _>(&self.read_interval)?;
                out.push_sql(" AND COALESCE(last_polled_at, ");
                out.push_bind_param::<BigInt, _>(&NEVER_POLLED)?;
                out.push_sql(") = ");
                out.push_bind_param::<BigInt, _>(&self.read_last)?;
                Ok(())
            }
        }
    )*};
}
record_poll_on!(Sqlite, Pg);
static_query!(RecordPoll);

/// The person's decision on a pending request: true if it was still
/// pending (and unexpired), so exactly one decision counts.
pub fn decide(
    conn: &mut DbConnection,
    device_code_hash: &str,
    decision: Decision<'_>,
    now: i64,
) -> Result<bool, StoreError> {
    let target = dc::table
        .find(device_code_hash)
        .filter(dc::status.eq(DeviceStatus::Pending.as_str()))
        .filter(dc::expires_at.gt(now));
    let n = match decision {
        Decision::Approve {
            user_id,
            session_id,
            auth_time,
            amr,
        } => diesel::update(target)
            .set((
                dc::status.eq(DeviceStatus::Approved.as_str()),
                dc::user_id.eq(user_id),
                dc::session_id.eq(session_id),
                dc::auth_time.eq(auth_time),
                dc::amr.eq(amr),
                dc::decided_at.eq(now),
            ))
            .execute(conn)?,
        Decision::Deny => diesel::update(target)
            .set((
                dc::status.eq(DeviceStatus::Denied.as_str()),
                dc::decided_at.eq(now),
            ))
            .execute(conn)?,
    };
    Ok(n == 1)
}

pub enum Decision<'a> {
    Approve {
        user_id: &'a str,
        session_id: &'a str,
        auth_time: i64,
        amr: &'a str,
    },
    Deny,
}

/// Spends an approved request and stores its refresh family's first token,
/// in one transaction: true for exactly one of any number of racing polls.
pub fn spend(
    conn: &mut DbConnection,
    device_code_hash: &str,
    first_refresh_token: Option<&RefreshTokenRow>,
) -> Result<bool, StoreError> {
    conn.transaction::<_, StoreError, _>(|conn| {
        let n = diesel::update(
            dc::table
                .find(device_code_hash)
                .filter(dc::status.eq(DeviceStatus::Approved.as_str())),
        )
        .set(dc::status.eq(DeviceStatus::Spent.as_str()))
        .execute(conn)?;
        if n != 1 {
            return Ok(false);
        }
        if let Some(row) = first_refresh_token {
            refresh_tokens::insert(conn, row)?;
        }
        Ok(true)
    })
}

/// How long a request is kept after it expires, so that a device still
/// polling hears `expired_token` rather than that its code is unknown.
pub const KEPT_AFTER_EXPIRY: i64 = 3_600;

/// Housekeeping: requests expired for [`KEPT_AFTER_EXPIRY`], whatever
/// became of them.
pub fn delete_expired(conn: &mut DbConnection, now: i64) -> Result<usize, StoreError> {
    let before = now - KEPT_AFTER_EXPIRY;
    Ok(diesel::delete(dc::table.filter(dc::expires_at.le(before))).execute(conn)?)
}
