//! What the `/device` pages decide (RFC 8628 §3.3): which pending request
//! a typed user code names — with wrong codes throttled per client address
//! and per browser, across replicas — and the person's approval or denial.

use crate::accounts::sessions::LiveSession;
use crate::accounts::throttle::{self, Policy, Verdict};
use crate::audit;
use crate::oauth::clients::Client;
use crate::oauth::Context;
use crate::store::device_codes::{self as rows, Decision, DeviceCodeRow};
use crate::store::StoreError;

use super::user_code;

/// Wrong user codes allowed per address and per browser within
/// [`WRONG_CODE_WINDOW`] before the page refuses to look any more up.
pub const MAX_WRONG_CODES: i64 = 10;
pub const WRONG_CODE_WINDOW: i64 = 900;

/// The login throttle's mechanism, with these limits and no slowing down.
const WRONG_CODES: Policy = Policy {
    max_per_user: MAX_WRONG_CODES,
    max_per_address: MAX_WRONG_CODES,
    slow_after: 0,
    window: WRONG_CODE_WINDOW,
};

/// Who is typing: the counters a wrong code is charged to.
pub struct Typist {
    pub address: Option<String>,
    /// The browser's device-page cookie (its CSRF token), as a stable id.
    pub browser: String,
}

impl Typist {
    fn keys(&self) -> throttle::Keys {
        let browser = crate::secrets::sha256_hex(&self.browser);
        throttle::guess_keys("device", &browser, self.address.as_deref())
    }
}

/// A pending request, with what the confirmation page shows.
pub struct Pending {
    pub row: DeviceCodeRow,
    pub client: Client,
    /// The user code as the person reads it (`XXXX-XXXX`).
    pub shown: String,
}

pub enum Lookup {
    Found(Box<Pending>),
    /// No pending request has that code (or it is malformed, or expired).
    Unknown,
    Throttled {
        retry_after: i64,
    },
}

/// Looks up the pending request `typed` names, counting a miss.
pub async fn find(ctx: &Context, typed: &str, typist: &Typist) -> Result<Lookup, StoreError> {
    let now = ctx.now();
    let keys = typist.keys();
    if let Verdict::Refuse { retry_after } =
        throttle::check(&ctx.db, &WRONG_CODES, &keys, now).await?
    {
        return Ok(Lookup::Throttled { retry_after });
    }
    let found = match user_code::normalize(typed) {
        Some(code) => {
            ctx.db
                .run(move |conn| rows::find_pending_by_user_code(conn, &code, now))
                .await?
        }
        None => None,
    };
    let Some(row) = found else {
        ctx.db
            .write(move |conn| throttle::record(conn, &WRONG_CODES, &keys, false, now))
            .await?;
        return Ok(Lookup::Unknown);
    };
    let Some(client) = ctx.clients.get_or_load(&ctx.db, &row.client_id).await? else {
        return Ok(Lookup::Unknown);
    };
    let shown = user_code::display(&row.user_code);
    Ok(Lookup::Found(Box::new(Pending { row, client, shown })))
}

/// Records the person's decision; false when the request was no longer
/// pending (decided in another tab, or expired meanwhile).
pub async fn decide(
    ctx: &Context,
    pending: &Pending,
    session: &LiveSession,
    approve: bool,
) -> Result<bool, StoreError> {
    let now = ctx.now();
    let hash = pending.row.device_code_hash.clone();
    let (user_id, session_id, auth_time, amr) = (
        session.user.id.clone(),
        session.id_hash.clone(),
        session.auth_time,
        session.amr.to_string(),
    );
    let client_id = pending.client.client_id.clone();
    ctx.db
        .write(move |conn| {
            let decision = if approve {
                Decision::Approve {
                    user_id: &user_id,
                    session_id: &session_id,
                    auth_time,
                    amr: &amr,
                }
            } else {
                Decision::Deny
            };
            let decided = rows::decide(conn, &hash, decision, now)?;
            if decided {
                let action = if approve {
                    "device.approved"
                } else {
                    "device.denied"
                };
                let actor = format!("user:{user_id}");
                audit::record_or_log(conn, now, &actor, action, &client_id, "");
            }
            Ok(decided)
        })
        .await
}
