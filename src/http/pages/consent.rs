//! `GET|POST /consent` — asks the user before a third-party client gets
//! their data. Keeping the answer and issuing the code are
//! `oauth::authorize`'s.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;

use super::login::{checked_form, client_name};
use super::{page_builder, render};
use crate::http::errors::PageError;
use crate::http::extract::current_session;
use crate::http::oauth::authorize::{pending_from_query, see_other};
use crate::http::State;
use crate::oauth::authorize;
use crate::oauth::Scope;

pub(super) struct ScopeLine {
    pub name: String,
    pub description: &'static str,
}

/// The lines a page shows for a scope, each described in plain words.
pub(super) fn scope_lines(scope: &Scope) -> Vec<ScopeLine> {
    scope
        .iter()
        .map(|s| ScopeLine {
            name: s.to_owned(),
            description: describe(s),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    client_name: &'a str,
    username: &'a str,
    scopes: Vec<ScopeLine>,
    request_id: &'a str,
    csrf_token: &'a str,
}

fn describe(scope: &str) -> &'static str {
    match scope {
        "openid" => "Know who you are (your account identifier)",
        "profile" => "Your name and username",
        "email" => "Your email address",
        "address" => "Your postal address",
        "phone" => "Your phone number",
        "offline_access" => "Stay connected while you are away",
        _ => "Access on your behalf",
    }
}

/// GET /consent?request=ID — asks the user before a third-party client gets their data.
#[get("/consent")]
pub async fn consent_form(
    req: HttpRequest,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let (request, pending) = pending_from_query(&req, &state).await?;
    let session = current_session(&req, &state)
        .await?
        .ok_or(PageError::Expired)?;
    let name = client_name(&state, &request.client_id)
        .await?
        .ok_or(PageError::Expired)?;
    let scope = Scope::parse(&request.scope).unwrap_or_default();
    let scopes = scope_lines(&scope);
    Ok(render(
        page_builder(StatusCode::OK),
        &ConsentPage {
            client_name: &name,
            username: &session.user.username,
            scopes,
            request_id: &pending.id,
            csrf_token: &pending.csrf_token,
        },
    ))
}

/// POST /consent — records the user's answer and resumes the request.
#[post("/consent")]
pub async fn consent_submit(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let (params, request, pending) = checked_form(&req, &state, payload).await?;
    let session = current_session(&req, &state)
        .await?
        .ok_or(PageError::Expired)?;
    let location = if params.get("decision") == Some("allow") {
        authorize::consent_given(&state.ctx, request, &session, pending.id).await?
    } else {
        authorize::consent_declined(&state.ctx, &request, pending.id).await
    };
    Ok(see_other(&location))
}
