//! Passkeys in the browser: the script (`GET /assets/webauthn.js`), "Sign
//! in with a passkey" on the login page (`POST /login/passkey/options`,
//! `POST /login/passkey`) and the options of a passkey as second factor
//! (`POST /login/second-factor/passkey-options`). The ceremonies are
//! `accounts::passkeys`'; options go out as JSON, the browser's answer
//! comes back in a form post, so the end of a sign-in is a redirect.

use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde_json::json;

use super::login::{checked_form, continue_url, login_page_for, set_session_cookie};
use super::second_factor::{challenge_cookie, csrf_of};
use crate::accounts::passkeys::{self, PasskeyError};
use crate::accounts::sessions::{self, SignIn};
use crate::accounts::webauthn::RelyingParty;
use crate::http::errors::{problem, PageError};
use crate::http::extract::{read_form, session_cookie};
use crate::http::oauth::authorize::see_other;
use crate::http::State;
use crate::secrets;

const SCRIPT: &str = include_str!("../../../assets/webauthn.js");

/// A browser's answer is a few kilobytes; anything longer is not one.
pub const MAX_CREDENTIAL_JSON: usize = 12 * 1024;

/// GET /assets/webauthn.js
#[get("/assets/webauthn.js")]
pub async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(SCRIPT)
}

/// The relying party, or the JSON answer saying passkeys are unavailable.
fn relying_party(state: &State) -> Result<&RelyingParty, Box<HttpResponse>> {
    state.ctx.passkeys.as_ref().map_err(|why| {
        Box::new(problem(
            StatusCode::NOT_FOUND,
            "passkeys_unavailable",
            &why.to_string(),
        ))
    })
}

fn options_response(options: serde_json::Value, ceremony: Option<String>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({"publicKey": options, "ceremony": ceremony}))
}

fn passkey_problem(e: PasskeyError) -> Result<HttpResponse, PageError> {
    match e {
        PasskeyError::Store(e) => Err(e.into()),
        other => Ok(problem(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &other.to_string(),
        )),
    }
}

/// POST /login/passkey/options — the login page's form (its pending
/// request and CSRF token): options for a discoverable credential.
#[post("/login/passkey/options")]
pub async fn sign_in_options(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let rp = match relying_party(&state) {
        Ok(rp) => rp,
        Err(res) => return Ok(*res),
    };
    let (_, _, pending) = match checked_form(&req, &state, payload).await {
        Ok(form) => form,
        Err(_) => {
            return Ok(problem(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "this sign-in page is out of date; reload it",
            ))
        }
    };
    let continue_to = Some(continue_url(&pending.id));
    match passkeys::begin_sign_in(&state.ctx.db, rp, continue_to, state.ctx.now()).await {
        Ok((options, ceremony)) => Ok(options_response(options, Some(ceremony))),
        Err(e) => passkey_problem(e),
    }
}

/// POST /login/passkey — the browser's assertion: on success a session
/// proven by the passkey (phishing-resistant, multi-factor with user
/// verification), and on to the authorization request.
#[post("/login/passkey")]
pub async fn sign_in(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let (params, request, pending) = checked_form(&req, &state, payload).await?;
    let ceremony = params.get("ceremony").unwrap_or("").to_owned();
    let credential = params.get("credential").unwrap_or("").to_owned();
    let refused = |message: &'static str| login_page_for(&state, &request, &pending, message);
    let rp = match state.ctx.passkeys.as_ref() {
        Ok(rp) => rp,
        Err(_) => return refused("Passkeys are not available on this server.").await,
    };
    if ceremony.is_empty() || credential.is_empty() || credential.len() > MAX_CREDENTIAL_JSON {
        return refused(
            "The passkey could not be verified. Try again, or sign in with your password.",
        )
        .await;
    }
    let now = state.ctx.now();
    let signed_in = match passkeys::finish_sign_in(&state.ctx.db, rp, &ceremony, &credential, now)
        .await
    {
        Ok(s) => s,
        Err(PasskeyError::Store(e)) => return Err(e.into()),
        Err(e) => {
            tracing::info!(client_id = %request.client_id, error = %e, "passkey sign-in refused");
            state.ctx.metrics.login_failed("passkey");
            let (db, detail) = (state.ctx.db.clone(), e.to_string());
            crate::audit::record_async(
                &db,
                now,
                "login-page".into(),
                "login.passkey_failure",
                request.client_id.clone(),
                detail,
            )
            .await;
            return refused(
                "The passkey could not be verified. Try again, or sign in with your password.",
            )
            .await;
        }
    };
    let browser = super::login::browser(&req);
    let sign_in = SignIn {
        user_id: signed_in.user.id.clone(),
        amr: signed_in.amr,
        address: browser.address,
        user_agent: browser.user_agent,
    };
    let ctx = &state.ctx;
    let session = sessions::start(
        &ctx.db,
        &ctx.events,
        sign_in,
        session_cookie(&req),
        now,
        ctx.protocol.session_ttl,
    )
    .await?;
    tracing::info!(user = %signed_in.user.id, client_id = %request.client_id, "passkey sign-in");
    let to = signed_in
        .continue_to
        .unwrap_or_else(|| continue_url(&pending.id));
    let mut res = see_other(&format!("{}{to}", ctx.issuer()));
    set_session_cookie(&mut res, session, &state)?;
    Ok(res)
}

/// POST /login/second-factor/passkey-options — options naming the
/// person's passkeys, for the login waiting for its second factor.
#[post("/login/second-factor/passkey-options")]
pub async fn second_factor_options(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let rp = match relying_party(&state) {
        Ok(rp) => rp,
        Err(res) => return Ok(*res),
    };
    let stale = || {
        problem(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "this sign-in has expired; start again",
        )
    };
    let Ok(params) = read_form(&req, payload).await else {
        return Ok(stale());
    };
    let Some(challenge) = challenge_cookie(&req) else {
        return Ok(stale());
    };
    let csrf_ok = params
        .get("csrf_token")
        .is_some_and(|t| secrets::constant_time_eq(t, &csrf_of(&challenge)));
    if !csrf_ok {
        return Ok(stale());
    }
    let deps = super::login::deps(&state);
    let Some(waiting) = crate::accounts::login::waiting(&deps, &challenge).await? else {
        return Ok(stale());
    };
    let hash = secrets::sha256_hex(&challenge);
    match passkeys::begin_second_factor(&state.ctx.db, rp, &waiting.user.id, &hash).await {
        Ok(options) => Ok(options_response(options, None)),
        Err(e) => passkey_problem(e),
    }
}
