//! RFC 8628 §3.4–3.5: the device polls with its device code. While the
//! person has not decided: `authorization_pending`, or `slow_down` when it
//! polls sooner than its interval (which then grows, in the database, so
//! every replica holds it to the new one). Once approved: tokens, exactly
//! once, however many polls race at however many replicas.

use super::{Granted, Login};
use crate::accounts::amr::Amr;
use crate::oauth::clients::{Client, GrantType};
use crate::oauth::device::SLOW_DOWN_STEP;
use crate::oauth::token::issue::NewFamily;
use crate::oauth::{resource, Context, Error, ErrorCode, Scope};
use crate::secrets;
use crate::store::device_codes::{self as rows, DeviceStatus};
use crate::store::users::{self, UserRow};
use crate::store::{sessions, DbConnection, StoreError};

enum Polled {
    Granted {
        user: Box<UserRow>,
        login: Login,
        scope: Scope,
        refresh_token: Option<String>,
        audience: Vec<String>,
    },
    Refused(Error),
}

pub async fn run(
    ctx: &Context,
    client: &Client,
    device_code: String,
    resources: &[String],
    dpop_jkt: Option<String>,
) -> Result<Granted, Error> {
    let hash = secrets::sha256_hex(&device_code);
    let (ttl, now) = (ctx.protocol.refresh_token_ttl, ctx.now());
    let (c, asked) = (client.clone(), resources.to_vec());
    let outcome = ctx
        .db
        .write(move |conn| poll(conn, &c, &hash, &asked, dpop_jkt.as_deref(), ttl, now))
        .await?;
    match outcome {
        Polled::Refused(e) => Err(e),
        Polled::Granted {
            user,
            login,
            scope,
            refresh_token,
            audience,
        } => Ok(Granted {
            grant: GrantType::DeviceCode,
            user: Some((user, login)),
            subject: None,
            scope,
            refresh_token,
            nonce: None,
            requested: None,
            audience,
            act: None,
            not_after: None,
        }),
    }
}

fn slow_down() -> Result<Polled, StoreError> {
    Ok(Polled::Refused(Error::new(
        ErrorCode::SlowDown,
        "polling too fast: wait 5 seconds more between polls",
    )))
}

/// One poll, on a blocking thread.
fn poll(
    conn: &mut DbConnection,
    client: &Client,
    hash: &str,
    asked: &[String],
    dpop_jkt: Option<&str>,
    refresh_ttl: i64,
    now: i64,
) -> Result<Polled, StoreError> {
    let refuse = |code: ErrorCode, d: &'static str| Ok(Polled::Refused(Error::new(code, d)));
    let row = match rows::find_by_hash(conn, hash)? {
        Some(row) if row.client_id == client.client_id => row,
        _ => return refuse(ErrorCode::InvalidGrant, "the device code is invalid"),
    };
    match row.status {
        DeviceStatus::Spent => {
            return refuse(
                ErrorCode::InvalidGrant,
                "the device code has already been used",
            )
        }
        DeviceStatus::Denied => {
            return refuse(ErrorCode::AccessDenied, "the person denied the request")
        }
        _ if row.expires_at <= now => {
            return refuse(ErrorCode::ExpiredToken, "the device code has expired")
        }
        DeviceStatus::Pending => {
            let early = row
                .last_polled_at
                .is_some_and(|at| now < at + row.poll_interval);
            // Already told to slow down and still early: the answer is the
            // same and nothing changes, so nothing is written — a device
            // polling in a tight loop costs a read per poll, and its
            // interval grows once per early spell, not without bound.
            if early && row.slowed {
                return slow_down();
            }
            // A lost race means another poll of this code landed at the
            // same moment: that is polling too fast as well.
            let counted = rows::record_poll(conn, &row, early, SLOW_DOWN_STEP, now)?;
            return if early || !counted {
                slow_down()
            } else {
                refuse(
                    ErrorCode::AuthorizationPending,
                    "the person has not yet approved the request",
                )
            };
        }
        DeviceStatus::Approved => {}
    }
    let granted_resources = resource::from_stored(&row.resources);
    let audience = match resource::target(asked, &granted_resources, client) {
        Ok(a) => a,
        Err(e) => return Ok(Polled::Refused(e)),
    };
    let (Some(user_id), Some(session_id), Some(auth_time)) =
        (&row.user_id, &row.session_id, row.auth_time)
    else {
        return Err(StoreError::Corrupt(format!(
            "approved device code of client {} has no user",
            row.client_id
        )));
    };
    let user = match users::find_by_id(conn, user_id)? {
        Some(u) if !u.disabled => u,
        _ => return refuse(ErrorCode::InvalidGrant, "the device code is invalid"),
    };
    if sessions::find_live(conn, session_id, now)?.is_none() {
        return refuse(
            ErrorCode::InvalidGrant,
            "the login session that approved this device has ended",
        );
    }
    let scope = Scope::from_stored(&row.scope)?;
    let fresh = client.allows(GrantType::RefreshToken).then(|| {
        NewFamily {
            client,
            user_id: &user.id,
            scope: &scope,
            auth_time,
            amr: row.amr.as_deref().unwrap_or("pwd"),
            session_id: Some(session_id),
            resources: &granted_resources,
            family_id: secrets::random_token(16),
            dpop_jkt,
            ttl: refresh_ttl,
            now,
        }
        .first_token()
    });
    if !rows::spend(conn, hash, fresh.as_ref().map(|(_, row)| row))? {
        return refuse(
            ErrorCode::InvalidGrant,
            "the device code has already been used",
        );
    }
    Ok(Polled::Granted {
        user: Box::new(user),
        login: Login {
            auth_time,
            amr: Amr::from_stored(row.amr.as_deref().unwrap_or("pwd")),
        },
        scope,
        refresh_token: fresh.map(|(t, _)| t),
        audience,
    })
}
