//! `GET|POST /authorize` and its continuation after a login or consent
//! page. The decisions are `oauth::authorize`'s; this file reads the
//! request and turns the outcome into a redirect.

use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};

use crate::accounts::sessions::LiveSession;
use crate::http::errors::PageError;
use crate::http::extract::{
    cookie, current_session, flow_cookie, parse_query, read_form, FLOW_COOKIE,
};
use crate::http::State;
use crate::oauth::authorize::{self, error_redirect, AuthorizeError, AuthorizeRequest, Outcome};
use crate::oauth::clients::{self, Client};
use crate::oauth::form::Params;
use crate::oauth::par::{self, Taken};
use crate::store::authorization::PendingRow;

const MALFORMED: &str = "The authorization request is malformed.";

/// GET /authorize — OIDC Core §3.1.2.1, RFC 6749 §4.1.1.
#[get("/authorize")]
pub async fn authorize_get(
    req: HttpRequest,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let params = parse_query(req.query_string()).map_err(|_| PageError::sign_in(MALFORMED))?;
    start(&req, &state, params).await
}

/// POST /authorize — OIDC Core §3.1.2.1 (form-encoded).
#[post("/authorize")]
pub async fn authorize_post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let params = read_form(&req, payload)
        .await
        .map_err(|_| PageError::sign_in(MALFORMED))?;
    start(&req, &state, params).await
}

/// GET /authorize/continue?request=ID — resumes a request after the login
/// or consent page.
#[get("/authorize/continue")]
pub async fn authorize_continue(
    req: HttpRequest,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let (request, pending) = pending_from_query(&req, &state).await?;
    let client = find_client(&state, &request.client_id)
        .await?
        .ok_or_else(|| PageError::sign_in("This application is no longer registered."))?;
    proceed(&req, &state, &client, request, Some(pending)).await
}

pub async fn find_client(state: &State, client_id: &str) -> Result<Option<Client>, PageError> {
    let id = client_id.to_owned();
    Ok(state
        .ctx
        .db
        .run(move |conn| clients::find(conn, &id))
        .await?)
}

async fn start(
    req: &HttpRequest,
    state: &State,
    params: Params,
) -> Result<HttpResponse, PageError> {
    let client_id = match authorize::client_id_of(&params) {
        Ok(id) => id,
        Err(e) => return reject(state, e),
    };
    let client = find_client(state, &client_id).await?.ok_or_else(|| {
        PageError::sign_in("The application that sent you here is not registered with Portcullis.")
    })?;
    // RFC 9126 §4: a pushed request stands for every other parameter.
    if let Some(request_uri) = params.get("request_uri") {
        return match par::take(&state.ctx, &client, request_uri).await? {
            Taken::Request(request) => proceed(req, state, &client, *request, None).await,
            Taken::Unusable => Err(PageError::sign_in(
                "This sign-in link has expired or was already used. \
                 Go back to the application and start again.",
            )),
        };
    }
    let require_par = state.ctx.protocol.require_par;
    match authorize::front_channel(&params, &client, require_par) {
        Ok(request) => proceed(req, state, &client, request, None).await,
        Err(e) => reject(state, e),
    }
}

fn reject(state: &State, error: AuthorizeError) -> Result<HttpResponse, PageError> {
    match error {
        AuthorizeError::Page(message) => Err(PageError::sign_in(message)),
        AuthorizeError::Redirect {
            redirect_uri,
            state: client_state,
            error,
        } => Ok(see_other(&error_redirect(
            &redirect_uri,
            client_state.as_deref(),
            &error,
            state.ctx.issuer(),
        ))),
    }
}

pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// The pending request a page's `?request=ID` names; the "expired" page
/// when it is not alive or not bound to this browser.
pub async fn pending_from_query(
    req: &HttpRequest,
    state: &State,
) -> Result<(AuthorizeRequest, PendingRow), PageError> {
    let params = parse_query(req.query_string()).map_err(|_| PageError::Expired)?;
    load_pending(req, state, params.get("request")).await
}

/// The pending request named by `id`; the "expired" page when it is not
/// alive or not bound to this browser.
pub async fn load_pending(
    req: &HttpRequest,
    state: &State,
    id: Option<&str>,
) -> Result<(AuthorizeRequest, PendingRow), PageError> {
    let id = id.map(str::to_owned).ok_or(PageError::Expired)?;
    let (browser, now) = (flow_cookie(req), state.ctx.now());
    state
        .ctx
        .db
        .run(move |conn| authorize::load_pending(conn, &id, browser.as_deref(), now))
        .await?
        .ok_or(PageError::Expired)
}

/// Runs the decision for a validated request and answers it.
async fn proceed(
    req: &HttpRequest,
    state: &State,
    client: &Client,
    request: AuthorizeRequest,
    pending: Option<PendingRow>,
) -> Result<HttpResponse, PageError> {
    let session: Option<LiveSession> = current_session(req, state).await?;
    let flow = flow_cookie(req);
    let outcome = authorize::proceed(
        &state.ctx,
        client,
        request,
        session.as_ref(),
        pending,
        flow.as_deref(),
    )
    .await?;
    Ok(respond(state, outcome))
}

/// An outcome as a response: a redirect, with the flow cookie when new.
pub fn respond(state: &State, outcome: Outcome) -> HttpResponse {
    match outcome {
        Outcome::Redirect(location) => see_other(&location),
        Outcome::Page {
            location,
            new_flow_cookie,
        } => {
            let mut res = HttpResponse::SeeOther();
            res.insert_header((header::LOCATION, location))
                .insert_header((header::CACHE_CONTROL, "no-store"));
            if let Some(value) = new_flow_cookie {
                res.cookie(cookie(FLOW_COOKIE, value, state));
            }
            res.finish()
        }
    }
}
