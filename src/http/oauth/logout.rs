//! `GET|POST /logout` — OpenID Connect RP-Initiated Logout 1.0. The rules
//! are `oauth::logout`'s; this file reads the request, ends the session
//! and renders the page.

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::authorize::see_other;
use crate::accounts::sessions;
use crate::events::SessionEndReason;
use crate::http::errors::PageError;
use crate::http::extract::{
    current_session, parse_query, read_form, session_cookie, SESSION_COOKIE,
};
use crate::http::pages::{page_builder, render};
use crate::http::State;
use crate::oauth::form::Params;
use crate::oauth::logout::{self, Decision};

#[derive(Template)]
#[template(path = "logout.html")]
struct ConfirmPage<'a> {
    username: &'a str,
    csrf_token: &'a str,
    post_logout_redirect_uri: Option<&'a str>,
    client_id: Option<&'a str>,
    state: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "signed_out.html")]
struct SignedOutPage;

const MALFORMED: &str = "The logout request is malformed.";

/// GET /logout
pub async fn logout_get(
    req: HttpRequest,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let params = parse_query(req.query_string()).map_err(|_| PageError::sign_out(MALFORMED))?;
    logout(&req, &state, params, false).await
}

/// POST /logout
pub async fn logout_post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let params = read_form(&req, payload)
        .await
        .map_err(|_| PageError::sign_out(MALFORMED))?;
    logout(&req, &state, params, true).await
}

async fn logout(
    req: &HttpRequest,
    state: &State,
    params: Params,
    posted: bool,
) -> Result<HttpResponse, PageError> {
    let session = current_session(req, state).await?;
    let cookie_value = session_cookie(req).unwrap_or_default();
    let decision = logout::decide(
        &state.ctx,
        &params,
        posted,
        session.as_ref().map(|s| (s, cookie_value.as_str())),
    )
    .await?;
    let redirect = match decision {
        Decision::Refuse(message) => return Err(PageError::sign_out(message)),
        Decision::Confirm {
            csrf_token,
            post_logout_redirect_uri,
            client_id,
            state: client_state,
        } => {
            // Without proof that the user's own application asked, ask the user.
            let username = session.as_ref().map_or("", |s| s.user.username.as_str());
            return Ok(render(
                page_builder(StatusCode::OK),
                &ConfirmPage {
                    username,
                    csrf_token: &csrf_token,
                    post_logout_redirect_uri: post_logout_redirect_uri.as_deref(),
                    client_id: client_id.as_deref(),
                    state: client_state.as_deref(),
                },
            ));
        }
        Decision::SignOut { redirect } => redirect,
    };
    if let Some(session) = &session {
        let ctx = &state.ctx;
        let ended = sessions::end_session(
            &ctx.db,
            &ctx.events,
            session.id_hash.clone(),
            ctx.now(),
            SessionEndReason::Logout,
        )
        .await?;
        let revoked = ended.map_or(0, |e| e.revoked);
        tracing::info!(user = %session.user.id, revoked, "logged out");
    }
    let mut res = match redirect {
        Some(location) => see_other(&location),
        None => render(page_builder(StatusCode::OK), &SignedOutPage),
    };
    let mut expired = Cookie::build(SESSION_COOKIE, "").path("/").finish();
    expired.make_removal();
    res.add_cookie(&expired)
        .map_err(|e| PageError::Internal(format!("cannot remove the session cookie: {e}")))?;
    Ok(res)
}
