//! RFC 6749 §4.1.3: the authorization code grant, with RFC 7636 PKCE. A
//! code is spent once; a second use revokes what the first one got.

use super::{Granted, Login};
use crate::accounts::amr::Amr;
use crate::oauth::claims::RequestedClaims;
use crate::oauth::clients::{Client, GrantType};
use crate::oauth::token::issue::NewFamily;
use crate::oauth::{pkce, resource, Context, Error, Scope};
use crate::secrets;
use crate::store::authorization::{self as codes, CodeRow};
use crate::store::users::{self, UserRow};
use crate::store::{sessions, DbConnection, StoreError};

/// What happened to a presented authorization code.
enum Redeemed {
    Ok {
        user: Box<UserRow>,
        code: Box<CodeRow>,
        scope: Scope,
        refresh_token: Option<String>,
        audience: Vec<String>,
    },
    Refused(Error),
}

/// The code and what came with it at the token endpoint.
pub struct Presented {
    pub code: String,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub resources: Vec<String>,
    /// The DPoP key the request proved (RFC 9449).
    pub dpop_jkt: Option<String>,
}

pub async fn run(ctx: &Context, client: &Client, presented: Presented) -> Result<Granted, Error> {
    let (ttl, now) = (ctx.protocol.refresh_token_ttl, ctx.now());
    let c = client.clone();
    let outcome = ctx
        .db
        .write(move |conn| redeem(conn, &c, &presented, ttl, now))
        .await?;
    let (user, code, scope, refresh_token, audience) = match outcome {
        Redeemed::Refused(e) => return Err(e),
        Redeemed::Ok {
            user,
            code,
            scope,
            refresh_token,
            audience,
        } => (user, code, scope, refresh_token, audience),
    };
    let requested = match code.claims.as_deref() {
        Some(json) => Some(
            serde_json::from_str::<RequestedClaims>(json)
                .map_err(|e| StoreError::Corrupt(format!("claims of a code: {e}")))?,
        ),
        None => None,
    };
    Ok(Granted {
        grant: GrantType::AuthorizationCode,
        user: Some((
            user,
            Login {
                auth_time: code.auth_time,
                amr: Amr::from_stored(&code.amr),
            },
        )),
        scope,
        refresh_token,
        nonce: code.nonce.clone(),
        requested,
        audience,
        subject: None,
        act: None,
        not_after: None,
    })
}

/// Checks and spends a code (RFC 6749 §4.1.3, RFC 7636 §4.6). Runs on a
/// blocking thread.
fn redeem(
    conn: &mut DbConnection,
    client: &Client,
    presented: &Presented,
    refresh_ttl: i64,
    now: i64,
) -> Result<Redeemed, StoreError> {
    let refused = |d: &'static str| Ok(Redeemed::Refused(Error::invalid_grant(d)));
    let hash = &secrets::sha256_hex(&presented.code);
    let Some(code) = codes::find_code(conn, hash)? else {
        return refused("the authorization code is invalid");
    };
    if code.client_id != client.client_id {
        return refused("the authorization code is invalid");
    }
    if code.used_at.is_some() {
        return replayed(conn, &code, now);
    }
    if code.expires_at <= now {
        return refused("the authorization code has expired");
    }
    if presented.redirect_uri.as_deref() != Some(code.redirect_uri.as_str()) {
        return refused("redirect_uri does not match the authorization request");
    }
    if let Err(e) = pkce::verify(
        code.code_challenge.as_deref(),
        presented.code_verifier.as_deref(),
    ) {
        return Ok(Redeemed::Refused(e));
    }
    // RFC 9449 §10: a code bound by `dpop_jkt` needs a proof by that key.
    if let Some(bound) = code.dpop_jkt.as_deref() {
        if presented.dpop_jkt.as_deref() != Some(bound) {
            return Ok(Redeemed::Refused(Error::invalid_grant(
                "the authorization code is bound to another DPoP key",
            )));
        }
    }
    let code_resources = resource::from_stored(&code.resources);
    let audience = match resource::target(&presented.resources, &code_resources, client) {
        Ok(a) => a,
        Err(e) => return Ok(Redeemed::Refused(e)),
    };
    if sessions::find_live(conn, &code.session_id, now)?.is_none() {
        return refused("the login session of this code has ended");
    }
    let user = match users::find_by_id(conn, &code.user_id)? {
        Some(u) if !u.disabled => u,
        _ => return refused("the authorization code is invalid"),
    };
    let family_id = secrets::random_token(16);
    let scope = Scope::from_stored(&code.scope)?;
    let fresh = client.allows(GrantType::RefreshToken).then(|| {
        NewFamily {
            client,
            user_id: &user.id,
            scope: &scope,
            auth_time: code.auth_time,
            amr: &code.amr,
            session_id: Some(&code.session_id),
            resources: &code_resources,
            family_id: family_id.clone(),
            dpop_jkt: presented.dpop_jkt.as_deref(),
            ttl: refresh_ttl,
            now,
        }
        .first_token()
    });
    if !codes::redeem(
        conn,
        hash,
        &family_id,
        fresh.as_ref().map(|(_, row)| row),
        now,
    )? {
        // Redeemed by a concurrent request between our read and our write.
        let code = codes::find_code(conn, hash)?.unwrap_or(code);
        return replayed(conn, &code, now);
    }
    Ok(Redeemed::Ok {
        user: Box::new(user),
        code: Box::new(code),
        scope,
        refresh_token: fresh.map(|(t, _)| t),
        audience,
    })
}

/// RFC 6749 §4.1.2: a code used twice revokes what it was first exchanged
/// for. As strong a theft signal as a reused refresh token, so it goes to
/// the audit trail the same way.
fn replayed(conn: &mut DbConnection, code: &CodeRow, now: i64) -> Result<Redeemed, StoreError> {
    super::theft_suspected(
        conn,
        code.family_id.as_deref(),
        &code.client_id,
        &code.user_id,
        "code.replayed",
        now,
    )?;
    Ok(Redeemed::Refused(Error::invalid_grant(
        "the authorization code has already been used",
    )))
}
