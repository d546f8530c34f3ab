//! `GET|POST /authorize` and its continuation after a login or consent.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};

use super::forms::{parse_query, read_form, single};
use super::pages;
use crate::accounts::sessions::{self, LiveSession};
use crate::oauth::authorize::{self, AuthorizeError, AuthorizeRequest, Next, SessionState};
use crate::oauth::clients::{self, Client};
use crate::oauth::Scope;
use crate::secrets;
use crate::store::authorization::{self as rows, PendingRow};
use crate::store::{self, StoreError};
use crate::Services;

pub const SESSION_COOKIE: &str = "portcullis_session";
/// Binds a pending login or consent to the browser that started it, so a
/// form cannot be completed from another browser (login CSRF).
pub const FLOW_COOKIE: &str = "portcullis_flow";

/// GET /authorize — OIDC Core §3.1.2.1, RFC 6749 §4.1.1.
#[get("/authorize")]
pub async fn authorize_get(req: HttpRequest, services: web::Data<Services>) -> HttpResponse {
    match parse_query(req.query_string()) {
        Ok(params) => start(&req, &services, params).await,
        Err(_) => bad_request("The authorization request is malformed."),
    }
}

/// POST /authorize — OIDC Core §3.1.2.1 (form-encoded).
#[post("/authorize")]
pub async fn authorize_post(
    req: HttpRequest,
    payload: web::Payload,
    services: web::Data<Services>,
) -> HttpResponse {
    match read_form(&req, payload).await {
        Ok(params) => start(&req, &services, params).await,
        Err(_) => bad_request("The authorization request is malformed."),
    }
}

/// GET /authorize/continue?request=ID — resumes a request after the login
/// or consent page.
#[get("/authorize/continue")]
pub async fn authorize_continue(req: HttpRequest, services: web::Data<Services>) -> HttpResponse {
    let Some((request, pending)) = pending_from_query(&req, &services).await else {
        return expired();
    };
    let client_id = request.client_id.clone();
    match services
        .db
        .run(move |conn| clients::find(conn, &client_id))
        .await
    {
        Ok(Some(client)) => proceed(&req, &services, client, request, Some(pending)).await,
        Ok(None) => bad_request("This application is no longer registered."),
        Err(_) => pages::unavailable(),
    }
}

fn bad_request(message: &str) -> HttpResponse {
    pages::error(StatusCode::BAD_REQUEST, "Cannot sign in", message)
}

pub fn expired() -> HttpResponse {
    bad_request("This sign-in page has expired or was opened in another browser. Go back to the application and start again.")
}

async fn start(
    req: &HttpRequest,
    services: &Services,
    params: Vec<(String, String)>,
) -> HttpResponse {
    let client_id = match authorize::client_id_of(&params) {
        Ok(id) => id,
        Err(e) => return reject(services, e),
    };
    let client = match services
        .db
        .run(move |conn| clients::find(conn, &client_id))
        .await
    {
        Ok(Some(client)) => client,
        Ok(None) => {
            return bad_request(
                "The application that sent you here is not registered with Portcullis.",
            )
        }
        Err(_) => return pages::unavailable(),
    };
    match authorize::validate(&params, &client) {
        Ok(request) => proceed(req, services, client, request, None).await,
        Err(e) => reject(services, e),
    }
}

fn reject(services: &Services, error: AuthorizeError) -> HttpResponse {
    match error {
        AuthorizeError::Page(message) => bad_request(&message),
        AuthorizeError::Redirect {
            redirect_uri,
            state,
            error,
        } => see_other(&authorize::error_redirect(
            &redirect_uri,
            state.as_deref(),
            &error,
            &services.settings.issuer,
        )),
    }
}

pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// The live SSO session of this browser, if any.
pub async fn current_session(
    req: &HttpRequest,
    services: &Services,
) -> Result<Option<LiveSession>, StoreError> {
    let Some(value) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()) else {
        return Ok(None);
    };
    services
        .db
        .run(move |conn| sessions::find(conn, &value, store::now()))
        .await
}

/// The pending request a page's `?request=ID` names.
pub async fn pending_from_query(
    req: &HttpRequest,
    services: &Services,
) -> Option<(AuthorizeRequest, PendingRow)> {
    let params = parse_query(req.query_string()).ok()?;
    load_pending(req, services, single(&params, "request")).await
}

/// A pending request named by `id`, if it is alive and bound to this browser.
pub async fn load_pending(
    req: &HttpRequest,
    services: &Services,
    id: Option<&str>,
) -> Option<(AuthorizeRequest, PendingRow)> {
    let id = id?.to_owned();
    let browser = req.cookie(FLOW_COOKIE).map(|c| c.value().to_owned());
    services
        .db
        .run(move |conn| authorize::load_pending(conn, &id, browser.as_deref(), store::now()))
        .await
        .ok()
        .flatten()
}

pub fn cookie<'c>(name: &'c str, value: String, services: &Services) -> Cookie<'c> {
    Cookie::build(name, value)
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(services.settings.secure_cookies())
        .finish()
}

/// Decides and answers: a code for the client, the login page, the consent
/// page, or an error for the client.
pub async fn proceed(
    req: &HttpRequest,
    services: &Services,
    client: Client,
    request: AuthorizeRequest,
    pending: Option<PendingRow>,
) -> HttpResponse {
    let session = match current_session(req, services).await {
        Ok(s) => s,
        Err(_) => return pages::unavailable(),
    };
    let consented = match (&session, client.consent) {
        (Some(s), true) => {
            let (user_id, client_id) = (s.user.id.clone(), client.client_id.clone());
            match services
                .db
                .run(move |conn| rows::find_consent(conn, &user_id, &client_id))
                .await
            {
                Ok(scope) => scope.and_then(|s| Scope::parse(&s).ok()),
                Err(_) => return pages::unavailable(),
            }
        }
        _ => None,
    };
    let state = session.as_ref().map(|s| SessionState {
        auth_time: s.auth_time,
    });
    let now = store::now();
    let next = authorize::next_step(
        &request,
        &client,
        state.as_ref(),
        consented.as_ref(),
        pending.as_ref().map(|p| p.created_at),
        now,
    );
    match (next, session) {
        (Err(error), _) => see_other(&authorize::error_redirect(
            &request.redirect_uri,
            request.state.as_deref(),
            &error,
            &services.settings.issuer,
        )),
        (Ok(Next::IssueCode), Some(session)) => {
            issue_code_redirect(services, request, &session, pending.map(|p| p.id)).await
        }
        (Ok(Next::Login), _) | (Ok(Next::IssueCode), None) => {
            to_page(req, services, "/login", request, pending).await
        }
        (Ok(Next::Consent), _) => to_page(req, services, "/consent", request, pending).await,
    }
}

/// Issues the code and sends the browser back to the client (RFC 6749
/// §4.1.2, with `iss` per RFC 9207).
pub async fn issue_code_redirect(
    services: &Services,
    request: AuthorizeRequest,
    session: &LiveSession,
    pending_id: Option<String>,
) -> HttpResponse {
    let (user_id, session_id, auth_time) = (
        session.user.id.clone(),
        session.id_hash.clone(),
        session.auth_time,
    );
    let ttl = services.settings.code_ttl;
    let req = request.clone();
    let code = services
        .db
        .write(move |conn| {
            let code = authorize::issue_code(
                conn,
                &req,
                &user_id,
                &session_id,
                auth_time,
                store::now(),
                ttl,
            )?;
            if let Some(id) = pending_id {
                rows::delete_pending(conn, &id)?;
            }
            Ok::<_, StoreError>(code)
        })
        .await;
    match code {
        Ok(code) => see_other(&authorize::redirect_url(
            &request.redirect_uri,
            &[
                ("code", Some(&code)),
                ("state", request.state.as_deref()),
                ("iss", Some(&services.settings.issuer)),
            ],
        )),
        Err(_) => pages::unavailable(),
    }
}

/// Parks the request and sends the browser to the login or consent page.
async fn to_page(
    req: &HttpRequest,
    services: &Services,
    page: &str,
    request: AuthorizeRequest,
    pending: Option<PendingRow>,
) -> HttpResponse {
    let existing = req
        .cookie(FLOW_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() == 43);
    let browser = existing
        .clone()
        .unwrap_or_else(|| secrets::random_token(32));
    let id = match pending {
        Some(p) => p.id,
        None => {
            let b = browser.clone();
            match services
                .db
                .write(move |conn| authorize::save_pending(conn, &request, &b, store::now()))
                .await
            {
                Ok(row) => row.id,
                Err(_) => return pages::unavailable(),
            }
        }
    };
    let location = authorize::redirect_url(
        &format!("{}{page}", services.settings.issuer),
        &[("request", Some(&id))],
    );
    let mut res = HttpResponse::SeeOther();
    res.insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if existing.is_none() {
        res.cookie(cookie(FLOW_COOKIE, browser, services));
    }
    res.finish()
}
