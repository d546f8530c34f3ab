//! `POST /register` (RFC 7591 §3) and `GET, PUT, DELETE
//! /register/{client_id}` (RFC 7592 §2): JSON in, JSON out. While
//! registration is off, every one of them is a plain 404.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::http::errors::RegisterError;
use crate::http::extract::{bearer_token, read_json};
use crate::http::{pages, State};
use crate::oauth::registration::{self, management, Mode, RegistrationRequest};

/// Registration bodies are small JSON objects; larger ones are refused
/// before parsing.
pub const MAX_REGISTRATION_BYTES: usize = 64 * 1024;

fn mode(state: &State) -> Mode {
    state.ctx.protocol.registration.mode
}

fn json(status: actix_web::http::StatusCode, body: serde_json::Value) -> HttpResponse {
    // RFC 7591 §3.2.1: the answer holds credentials.
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body)
}

/// POST /register — RFC 7591 §3.
pub async fn register(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, RegisterError> {
    let mode = mode(&state);
    if mode == Mode::Off {
        return Ok(pages::not_found().await);
    }
    // On an open endpoint an Authorization header means nothing.
    let initial_token = match mode {
        Mode::Token => bearer_token(&req)?,
        _ => None,
    };
    let body = read_json(&req, payload, MAX_REGISTRATION_BYTES).await?;
    let request = RegistrationRequest {
        body: &body,
        initial_token,
        address: req.peer_addr().map(|a| a.ip().to_string()),
    };
    let registered = registration::register(&state.ctx, request).await?;
    Ok(json(actix_web::http::StatusCode::CREATED, registered))
}

/// GET /register/{client_id} — RFC 7592 §2.1.
pub async fn read(
    req: HttpRequest,
    client_id: web::Path<String>,
    state: web::Data<State>,
) -> Result<HttpResponse, RegisterError> {
    if mode(&state) == Mode::Off {
        return Ok(pages::not_found().await);
    }
    let token = bearer_token(&req)?;
    let current = management::read(&state.ctx, &client_id, token).await?;
    Ok(json(actix_web::http::StatusCode::OK, current))
}

/// PUT /register/{client_id} — RFC 7592 §2.2.
pub async fn update(
    req: HttpRequest,
    client_id: web::Path<String>,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, RegisterError> {
    if mode(&state) == Mode::Off {
        return Ok(pages::not_found().await);
    }
    let token = bearer_token(&req)?;
    let body = read_json(&req, payload, MAX_REGISTRATION_BYTES).await?;
    let updated = management::update(&state.ctx, &client_id, token, &body).await?;
    Ok(json(actix_web::http::StatusCode::OK, updated))
}

/// DELETE /register/{client_id} — RFC 7592 §2.3.
pub async fn delete(
    req: HttpRequest,
    client_id: web::Path<String>,
    state: web::Data<State>,
) -> Result<HttpResponse, RegisterError> {
    if mode(&state) == Mode::Off {
        return Ok(pages::not_found().await);
    }
    let token = bearer_token(&req)?;
    management::delete(&state.ctx, &client_id, token).await?;
    Ok(HttpResponse::NoContent()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
