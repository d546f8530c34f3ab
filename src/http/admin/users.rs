//! `/admin/users`: list, create, disable.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::{ok, AdminActor};
use crate::accounts::{self, factors, NewUser};
use crate::http::errors::AdminError;
use crate::http::State;
use crate::store::users;

/// GET /admin/users
pub async fn list_users(
    _: AdminActor,
    state: web::Data<State>,
) -> Result<HttpResponse, AdminError> {
    let list = state.ctx.db.run(users::list).await?;
    let summaries: Vec<_> = list.iter().map(accounts::user_summary).collect();
    Ok(ok(StatusCode::OK, json!({ "users": summaries })))
}

#[derive(Deserialize)]
pub struct NewUserBody {
    username: String,
    password: String,
    email: Option<String>,
    name: Option<String>,
}

/// POST /admin/users — `{"username", "password", "email"?, "name"?}`
pub async fn create_user(
    AdminActor(actor): AdminActor,
    body: web::Json<NewUserBody>,
    state: web::Data<State>,
) -> Result<HttpResponse, AdminError> {
    let body = body.into_inner();
    let new = NewUser {
        username: &body.username,
        email: body.email.as_deref(),
        name: body.name.as_deref(),
        password: &body.password,
    };
    let user = accounts::create_user_async(&state.ctx.db, &new, actor, state.ctx.now()).await?;
    Ok(ok(StatusCode::CREATED, accounts::user_summary(&user)))
}

/// The user a path names, or 404.
async fn user_named(state: &State, username: String) -> Result<users::UserRow, AdminError> {
    let name = username.clone();
    state
        .ctx
        .db
        .run(move |conn| users::find_by_username(conn, &name))
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("no user named {username}")))
}

/// GET /admin/users/{username}/mfa — the user's second factors (never a secret).
pub async fn list_factors(
    _: AdminActor,
    username: web::Path<String>,
    state: web::Data<State>,
) -> Result<HttpResponse, AdminError> {
    let user = user_named(&state, username.into_inner()).await?;
    let id = user.id.clone();
    let listing = state
        .ctx
        .db
        .run(move |conn| factors::listing(conn, &id))
        .await?;
    Ok(ok(
        StatusCode::OK,
        json!({"username": user.username, "factors": listing}),
    ))
}

/// POST /admin/users/{username}/mfa/reset — removes every second factor
/// and recovery code (audited).
pub async fn reset_factors(
    AdminActor(actor): AdminActor,
    username: web::Path<String>,
    state: web::Data<State>,
) -> Result<HttpResponse, AdminError> {
    let user = user_named(&state, username.into_inner()).await?;
    let (id, now) = (user.id.clone(), state.ctx.now());
    let before = state
        .ctx
        .db
        .write(move |conn| factors::reset(conn, &id, &actor, now))
        .await?;
    Ok(ok(
        StatusCode::OK,
        json!({"username": user.username, "removed": before}),
    ))
}

/// POST /admin/users/{username}/disable — and revoke the user's refresh tokens.
pub async fn disable_user(
    AdminActor(actor): AdminActor,
    username: web::Path<String>,
    state: web::Data<State>,
) -> Result<HttpResponse, AdminError> {
    let username = username.into_inner();
    let (name, now) = (username.clone(), state.ctx.now());
    let revoked = state
        .ctx
        .db
        .write(move |conn| accounts::disable_user(conn, &name, &actor, now))
        .await?;
    Ok(ok(
        StatusCode::OK,
        json!({"username": username, "disabled": true, "revoked_refresh_tokens": revoked}),
    ))
}
