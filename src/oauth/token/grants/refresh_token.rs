//! RFC 6749 §6: the refresh token grant, with rotation and reuse detection
//! (RFC 9700 §4.14.2). Every use spends the token and returns its
//! successor; a spent token coming back revokes its whole family.

use super::{Granted, Login};
use crate::accounts::amr::Amr;
use crate::oauth::clients::{Client, GrantType};
use crate::oauth::token::issue;
use crate::oauth::{resource, Context, Error, Scope};
use crate::secrets;
use crate::store::refresh_tokens::{self as rt, RefreshTokenRow};
use crate::store::users::UserRow;
use crate::store::{DbConnection, StoreError};

/// What happened to a presented refresh token.
enum Refreshed {
    /// A spent token came back: the family was revoked.
    Reused(Error),
    Rotated {
        user: Box<UserRow>,
        login: Login,
        new_token: String,
        scope: Scope,
        audience: Vec<String>,
    },
    Refused(Error),
}

pub async fn run(
    ctx: &Context,
    client: &Client,
    presented: String,
    requested_scope: Option<String>,
    resources: Vec<String>,
    dpop_jkt: Option<String>,
) -> Result<Granted, Error> {
    let c = client.clone();
    let hash = secrets::sha256_hex(&presented);
    let (reuse_grace, now) = (ctx.protocol.refresh_reuse_grace, ctx.now());
    let outcome = ctx
        .db
        .write(move |conn| {
            let asked = Asked {
                scope: requested_scope.as_deref(),
                resources: &resources,
                dpop_jkt: dpop_jkt.as_deref(),
            };
            rotate(conn, &c, &hash, asked, reuse_grace, now)
        })
        .await?;
    match outcome {
        Refreshed::Refused(e) => Err(e),
        Refreshed::Reused(e) => {
            ctx.metrics.refresh_reuse_detected();
            Err(e)
        }
        Refreshed::Rotated {
            user,
            login,
            new_token,
            scope,
            audience,
        } => Ok(Granted {
            grant: GrantType::RefreshToken,
            user: Some((user, login)),
            scope,
            refresh_token: Some(new_token),
            nonce: None,
            requested: None,
            audience,
            subject: None,
            act: None,
            not_after: None,
        }),
    }
}

/// What the refresh asks to narrow to: a scope (RFC 6749 §6) and
/// resources (RFC 8707 §2.2).
struct Asked<'a> {
    scope: Option<&'a str>,
    resources: &'a [String],
    /// The DPoP key the request proved.
    dpop_jkt: Option<&'a str>,
}

/// Spends `hash` and stores its successor, or says why not. Runs on a
/// blocking thread.
fn rotate(
    conn: &mut DbConnection,
    client: &Client,
    hash: &str,
    asked: Asked<'_>,
    reuse_grace: i64,
    now: i64,
) -> Result<Refreshed, StoreError> {
    let invalid = || {
        Ok(Refreshed::Refused(Error::invalid_grant(
            "the refresh token is invalid, expired or revoked",
        )))
    };
    let Some((row, user)) = rt::find_with_user(conn, hash)? else {
        return invalid();
    };
    // A token is bound to the client it was issued to (RFC 6749 §6); saying
    // more would tell a stranger the token exists.
    if row.client_id != client.client_id || row.revoked_at.is_some() || row.expires_at <= now {
        return invalid();
    }
    // The optional grace window: a client replaying the token it spent a
    // moment ago (two tabs, a retry after a lost response) gets a fresh pair.
    let within_grace = |used_at: i64| reuse_grace > 0 && now - used_at <= reuse_grace;
    if row.used_at.is_some_and(|t| !within_grace(t)) {
        return reuse_detected(conn, &row, now);
    }
    if user.disabled {
        rt::revoke_family(conn, &row.family_id, now)?;
        return invalid();
    }
    // RFC 9449 §5: a bound family is refreshed only with a proof by its key.
    if let Some(bound) = row.dpop_jkt.as_deref() {
        if asked.dpop_jkt != Some(bound) {
            return Ok(Refreshed::Refused(Error::invalid_grant(
                "the refresh token is bound to another DPoP key",
            )));
        }
    }
    let granted = Scope::from_stored(&row.scope)?;
    let scope = match Scope::grant(asked.scope, &granted) {
        Ok(s) => s,
        Err(e) => return Ok(Refreshed::Refused(e)),
    };
    let family_resources = resource::from_stored(&row.resources);
    let audience = match resource::target(asked.resources, &family_resources, client) {
        Ok(a) => a,
        Err(e) => return Ok(Refreshed::Refused(e)),
    };
    let (new_token, successor) = issue::successor(&row, now);
    if !rt::rotate(conn, &row.id, &successor, now)? {
        // Spent (or revoked) between our read and our write: a concurrent
        // request won. Within the grace window the loser gets its own pair.
        let current = rt::find_by_hash(conn, hash)?;
        let graced = current
            .as_ref()
            .is_some_and(|r| r.revoked_at.is_none() && r.used_at.is_some_and(within_grace));
        if !graced {
            return reuse_detected(conn, &row, now);
        }
        rt::insert(conn, &successor)?;
        tracing::info!(family = %row.family_id, "refresh token replayed within the grace window");
    }
    Ok(Refreshed::Rotated {
        user: Box::new(user),
        login: Login {
            auth_time: row.auth_time,
            amr: Amr::from_stored(&row.amr),
        },
        new_token,
        scope,
        audience,
    })
}

/// A spent refresh token came back: either an attacker or a client replaying
/// a stolen token. RFC 9700 §4.14.2: revoke the whole family.
fn reuse_detected(
    conn: &mut DbConnection,
    row: &RefreshTokenRow,
    now: i64,
) -> Result<Refreshed, StoreError> {
    super::theft_suspected(
        conn,
        Some(&row.family_id),
        &row.client_id,
        &row.user_id,
        "refresh.reuse_detected",
        now,
    )?;
    Ok(Refreshed::Reused(Error::invalid_grant(
        "the refresh token is invalid, expired or revoked",
    )))
}
