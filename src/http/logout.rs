//! `GET|POST /logout` — OpenID Connect RP-Initiated Logout 1.0.

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::authorize::{current_session, see_other, SESSION_COOKIE};
use super::forms::{parse_query, read_form, single};
use super::pages::{self, page_builder, render};
use crate::accounts::sessions;
use crate::oauth::authorize::redirect_url;
use crate::oauth::clients;
use crate::secrets;
use crate::store;
use crate::Services;

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

#[derive(Debug, Deserialize)]
struct IdTokenHint {
    sub: String,
    aud: Audience,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn first(&self) -> Option<&str> {
        match self {
            Audience::One(a) => Some(a),
            Audience::Many(v) => v.first().map(String::as_str),
        }
    }
}

/// The logout form's CSRF token: only a page that could read the session
/// cookie's value can compute it.
fn logout_csrf(session_cookie: &str) -> String {
    secrets::sha256_hex(&format!("logout:{session_cookie}"))
}

fn refuse(message: &str) -> HttpResponse {
    pages::error(StatusCode::BAD_REQUEST, "Cannot sign out", message)
}

/// GET /logout
pub async fn logout_get(req: HttpRequest, services: web::Data<Services>) -> HttpResponse {
    match parse_query(req.query_string()) {
        Ok(params) => logout(&req, &services, params, false).await,
        Err(_) => refuse("The logout request is malformed."),
    }
}

/// POST /logout
pub async fn logout_post(
    req: HttpRequest,
    payload: web::Payload,
    services: web::Data<Services>,
) -> HttpResponse {
    match read_form(&req, payload).await {
        Ok(params) => logout(&req, &services, params, true).await,
        Err(_) => refuse("The logout request is malformed."),
    }
}

async fn logout(
    req: &HttpRequest,
    services: &Services,
    params: Vec<(String, String)>,
    posted: bool,
) -> HttpResponse {
    let hint = match single(&params, "id_token_hint") {
        // An expired ID token still says who logged in (RP-Initiated Logout §2).
        Some(token) => match services.keys.verify::<IdTokenHint>(
            token,
            &services.settings.issuer,
            "JWT",
            false,
        ) {
            Ok(h) => Some(h),
            Err(_) => return refuse("The id_token_hint was not issued by this server."),
        },
        None => None,
    };
    let client_id =
        single(&params, "client_id").or_else(|| hint.as_ref().and_then(|h| h.aud.first()));
    if let (Some(param), Some(from_hint)) = (
        single(&params, "client_id"),
        hint.as_ref().and_then(|h| h.aud.first()),
    ) {
        if param != from_hint {
            return refuse("client_id does not match the id_token_hint.");
        }
    }
    let state = single(&params, "state");
    let post_logout = single(&params, "post_logout_redirect_uri");
    if let Some(uri) = post_logout {
        // Registered URIs only: anything else would make logout an open redirector.
        let Some(id) = client_id.map(str::to_owned) else {
            return refuse("post_logout_redirect_uri needs a client_id or an id_token_hint.");
        };
        let client = match services.db.run(move |conn| clients::find(conn, &id)).await {
            Ok(c) => c,
            Err(_) => return pages::unavailable(),
        };
        if !client.is_some_and(|c| c.post_logout_redirect_uris.iter().any(|u| u == uri)) {
            return refuse("The post_logout_redirect_uri is not registered for this application.");
        }
    }

    let session = match current_session(req, services).await {
        Ok(s) => s,
        Err(_) => return pages::unavailable(),
    };
    if let Some(session) = session {
        let cookie_value = req
            .cookie(SESSION_COOKIE)
            .map(|c| c.value().to_owned())
            .unwrap_or_default();
        let hinted = hint.as_ref().is_some_and(|h| h.sub == session.user.id);
        let confirmed = posted
            && single(&params, "csrf_token")
                .is_some_and(|t| secrets::constant_time_eq(t, &logout_csrf(&cookie_value)));
        if !hinted && !confirmed {
            // Without proof that the user's own application asked, ask the user.
            return render(
                page_builder(StatusCode::OK),
                &ConfirmPage {
                    username: &session.user.username,
                    csrf_token: &logout_csrf(&cookie_value),
                    post_logout_redirect_uri: post_logout,
                    client_id,
                    state,
                },
            );
        }
        let id_hash = session.id_hash.clone();
        let ended = services
            .db
            .write(move |conn| sessions::end(conn, &id_hash, store::now()))
            .await;
        match ended {
            Ok(revoked) => tracing::info!(user = %session.user.id, revoked, "logged out"),
            Err(_) => return pages::unavailable(),
        }
    }
    let mut res = match post_logout {
        Some(uri) => see_other(&redirect_url(uri, &[("state", state)])),
        None => render(page_builder(StatusCode::OK), &SignedOutPage),
    };
    let mut expired = Cookie::build(SESSION_COOKIE, "").path("/").finish();
    expired.make_removal();
    if res.add_cookie(&expired).is_err() {
        return pages::unavailable();
    }
    res
}
