//! The admin API under `/admin`: keys, users, clients and initial access
//! tokens for dynamic registration, as JSON.
//!
//! Authorized by a Portcullis access token (RFC 9068) whose audience is the
//! issuer and whose scope holds `portcullis:admin` — typically obtained by a
//! `client_credentials` client registered with that scope. Handlers take an
//! [`AdminActor`], so none can forget the check; the domain operations they
//! call record the audit event with `admin:<client_id>` as actor.

mod clients;
mod keys;
mod registration_tokens;
mod users;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;
use serde_json::Value;

use super::errors::{problem, AdminError, BearerError};
use super::extract::presented_token;
use super::State;
use crate::oauth::access_token;
use crate::oauth::{Error, ErrorCode, Scope};

pub const ADMIN_SCOPE: &str = "portcullis:admin";

pub fn routes(cfg: &mut web::ServiceConfig) {
    let json = web::JsonConfig::default()
        .limit(16 * 1024)
        .error_handler(|err, _| {
            let response = problem(StatusCode::BAD_REQUEST, "invalid_request", &err.to_string());
            actix_web::error::InternalError::from_response(err, response).into()
        });
    cfg.service(
        web::scope("/admin")
            .app_data(json)
            .route("/keys", web::get().to(keys::list_keys))
            .route("/keys/rotate", web::post().to(keys::rotate_keys))
            .route("/keys/{kid}/revoke", web::post().to(keys::revoke_key))
            .route("/users", web::get().to(users::list_users))
            .route("/users", web::post().to(users::create_user))
            .route("/users/{username}/mfa", web::get().to(users::list_factors))
            .route(
                "/users/{username}/mfa/reset",
                web::post().to(users::reset_factors),
            )
            .route(
                "/users/{username}/disable",
                web::post().to(users::disable_user),
            )
            .route("/clients", web::get().to(clients::list_clients))
            .route("/clients", web::post().to(clients::create_client))
            .route(
                "/clients/{client_id}",
                web::delete().to(clients::remove_client),
            )
            .route(
                "/registration-tokens",
                web::post().to(registration_tokens::create_token),
            )
            .default_service(web::to(|| async {
                problem(StatusCode::NOT_FOUND, "not_found", "no such admin endpoint")
            })),
    );
}

fn ok(status: StatusCode, body: Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("cache-control", "no-store"))
        .json(body)
}

/// The admin a request acts for, as the audit trail names it
/// (`admin:<client_id>`). Extracting it checks the bearer token.
pub struct AdminActor(pub String);

impl FromRequest for AdminActor {
    type Error = AdminError;
    type Future = LocalBoxFuture<'static, Result<Self, AdminError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authorize(&req).await.map(AdminActor) })
    }
}

async fn authorize(req: &HttpRequest) -> Result<String, AdminError> {
    let state = req
        .app_data::<web::Data<State>>()
        .ok_or_else(|| AdminError::Internal("the server state is missing".into()))?;
    let token_error = |e: Error| AdminError::Token(BearerError::new(e));
    let token = presented_token(req)
        .map_err(token_error)?
        .ok_or(AdminError::Token(BearerError::missing()))?;
    let dpop = token.is_dpop();
    let token_error = |e: Error| AdminError::Token(BearerError::new(e).dpop(dpop));
    let invalid = || {
        token_error(Error::new(
            ErrorCode::InvalidToken,
            "the access token is invalid or expired",
        ))
    };
    let valid =
        access_token::validate_presented(&state.ctx, &token, req.method().as_str(), req.path())
            .await
            .map_err(token_error)?;
    if !valid.claims.aud.contains(state.ctx.issuer()) {
        return Err(invalid());
    }
    let scope = Scope::parse(&valid.claims.scope).unwrap_or_default();
    if !scope.contains(ADMIN_SCOPE) {
        return Err(token_error(Error::new(
            ErrorCode::InsufficientScope,
            "the access token does not carry the portcullis:admin scope",
        )));
    }
    Ok(format!("admin:{}", valid.claims.client_id))
}
