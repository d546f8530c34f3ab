//! OpenID Connect RP-Initiated Logout 1.0: who may ask to end a session,
//! and where the browser may be sent afterwards.

use serde::Deserialize;

use super::access_token::Audience;
use super::authorize::redirect_url;
use super::clients;
use super::form::Params;
use super::Context;
use crate::accounts::sessions::LiveSession;
use crate::keys::{Expiring, Expiry};
use crate::secrets;
use crate::store::StoreError;

#[derive(Debug, Deserialize)]
struct IdTokenHint {
    sub: String,
    aud: Audience,
    exp: i64,
}

impl Expiring for IdTokenHint {
    fn exp(&self) -> i64 {
        self.exp
    }
}

/// What to do with a logout request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Refuse, with a sentence for the person.
    Refuse(&'static str),
    /// Nothing proves the user's own application asked: ask the user, on a
    /// page whose form carries `csrf_token` and the request's parameters.
    Confirm {
        csrf_token: String,
        post_logout_redirect_uri: Option<String>,
        client_id: Option<String>,
        state: Option<String>,
    },
    /// End the browser's session (if it has one), then send the browser to
    /// `redirect` or show the signed-out page.
    SignOut { redirect: Option<String> },
}

/// The logout form's CSRF token: only a page that could read the session
/// cookie's value can compute it.
pub fn logout_csrf(session_cookie: &str) -> String {
    secrets::sha256_hex(&format!("logout:{session_cookie}"))
}

/// Decides a logout request. `session` is the browser's live session and
/// its cookie's value; `posted` whether the request is the confirmation
/// form's POST.
pub async fn decide(
    ctx: &Context,
    params: &Params,
    posted: bool,
    session: Option<(&LiveSession, &str)>,
) -> Result<Decision, StoreError> {
    let hint = match params.get("id_token_hint") {
        // An expired ID token still says who logged in (RP-Initiated Logout §2).
        Some(token) => {
            match ctx
                .keys
                .verify::<IdTokenHint>(token, ctx.issuer(), "JWT", Expiry::Ignore)
            {
                Ok(h) => Some(h),
                Err(_) => {
                    return Ok(Decision::Refuse(
                        "The id_token_hint was not issued by this server.",
                    ))
                }
            }
        }
        None => None,
    };
    let from_hint = hint.as_ref().and_then(|h| h.aud.first());
    let client_id = params.get("client_id").or(from_hint);
    if let (Some(param), Some(from_hint)) = (params.get("client_id"), from_hint) {
        if param != from_hint {
            return Ok(Decision::Refuse(
                "client_id does not match the id_token_hint.",
            ));
        }
    }
    let state = params.get("state");
    let post_logout = params.get("post_logout_redirect_uri");
    if let Some(uri) = post_logout {
        // Registered URIs only: anything else would make logout an open redirector.
        let Some(id) = client_id.map(str::to_owned) else {
            return Ok(Decision::Refuse(
                "post_logout_redirect_uri needs a client_id or an id_token_hint.",
            ));
        };
        let client = ctx.db.run(move |conn| clients::find(conn, &id)).await?;
        if !client.is_some_and(|c| c.post_logout_redirect_uris.iter().any(|u| u == uri)) {
            return Ok(Decision::Refuse(
                "The post_logout_redirect_uri is not registered for this application.",
            ));
        }
    }
    if let Some((session, cookie)) = session {
        let hinted = hint.as_ref().is_some_and(|h| h.sub == session.user.id);
        let confirmed = posted
            && params
                .get("csrf_token")
                .is_some_and(|t| secrets::constant_time_eq(t, &logout_csrf(cookie)));
        if !hinted && !confirmed {
            return Ok(Decision::Confirm {
                csrf_token: logout_csrf(cookie),
                post_logout_redirect_uri: post_logout.map(str::to_owned),
                client_id: client_id.map(str::to_owned),
                state: state.map(str::to_owned),
            });
        }
    }
    Ok(Decision::SignOut {
        redirect: post_logout.map(|uri| redirect_url(uri, &[("state", state)])),
    })
}
