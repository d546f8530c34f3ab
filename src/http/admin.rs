//! The admin API under `/admin`: keys, users and clients, as JSON.
//!
//! Authorized by a Portcullis access token (RFC 9068) whose audience is the
//! issuer and whose scope holds `portcullis:admin` — typically obtained by a
//! `client_credentials` client registered with that scope. Every action goes
//! to the audit trail with `admin:<client_id>` as actor.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::userinfo::{bearer_error, header_token};
use crate::accounts::{self, AccountError, NewUser};
use crate::audit::record_async;
use crate::keys::{lifecycle, KeyError, SigningAlg};
use crate::oauth::clients::{self, GrantType, NewClient, RegistrationError};
use crate::oauth::{Error, ErrorCode, Scope};
use crate::store::{self, keys as key_rows, users, StoreError};
use crate::Services;

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
            .route("/keys", web::get().to(list_keys))
            .route("/keys/rotate", web::post().to(rotate_keys))
            .route("/keys/{kid}/revoke", web::post().to(revoke_key))
            .route("/users", web::get().to(list_users))
            .route("/users", web::post().to(create_user))
            .route("/users/{username}/disable", web::post().to(disable_user))
            .route("/clients", web::get().to(list_clients))
            .route("/clients", web::post().to(create_client))
            .route("/clients/{client_id}", web::delete().to(remove_client))
            .default_service(web::to(|| async {
                problem(StatusCode::NOT_FOUND, "not_found", "no such admin endpoint")
            })),
    );
}

fn problem(status: StatusCode, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("cache-control", "no-store"))
        .json(json!({"error": error, "error_description": description}))
}

fn ok(status: StatusCode, body: Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("cache-control", "no-store"))
        .json(body)
}

fn unavailable(e: impl std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %e, "admin API storage error");
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        "the database cannot be reached",
    )
}

#[derive(Deserialize)]
struct AdminClaims {
    client_id: String,
    jti: String,
    aud: Value,
    #[serde(default)]
    scope: String,
}

/// Checks the bearer token; returns the actor for the audit trail.
async fn authorize(req: &HttpRequest, services: &Services) -> Result<String, Box<HttpResponse>> {
    let token = match header_token(req) {
        Ok(Some(t)) => t,
        Ok(None) => return Err(Box::new(bearer_error(None))),
        Err(e) => return Err(Box::new(bearer_error(Some(&e)))),
    };
    let invalid = || {
        Box::new(bearer_error(Some(&Error::new(
            ErrorCode::InvalidToken,
            "the access token is invalid or expired",
        ))))
    };
    let claims: AdminClaims = services
        .keys
        .verify(&token, &services.settings.issuer, "at+jwt", true)
        .map_err(|_| invalid())?;
    let issuer = services.settings.issuer.as_str();
    let for_us = match &claims.aud {
        Value::String(a) => a == issuer,
        Value::Array(list) => list.iter().any(|a| a == issuer),
        _ => false,
    };
    if !for_us {
        return Err(invalid());
    }
    let scope = Scope::parse(&claims.scope).unwrap_or_default();
    if !scope.contains(ADMIN_SCOPE) {
        return Err(Box::new(bearer_error(Some(&Error::new(
            ErrorCode::InsufficientScope,
            "the access token does not carry the portcullis:admin scope",
        )))));
    }
    match crate::oauth::introspection::live_access_token(services, &claims.jti, None).await {
        Ok(Some(_)) => {}
        Ok(None) => return Err(invalid()),
        Err(e) => return Err(Box::new(unavailable(e))),
    }
    Ok(format!("admin:{}", claims.client_id))
}

macro_rules! admin {
    ($req:expr, $services:expr) => {
        match authorize(&$req, &$services).await {
            Ok(actor) => actor,
            Err(response) => return *response,
        }
    };
}

/// GET /admin/keys
async fn list_keys(req: HttpRequest, services: web::Data<Services>) -> HttpResponse {
    admin!(req, services);
    match services.db.run(key_rows::list).await {
        Ok(keys) => {
            let now = store::now();
            ok(
                StatusCode::OK,
                json!({"keys": keys.iter().map(|k| lifecycle::key_summary(k, now)).collect::<Vec<_>>()}),
            )
        }
        Err(e) => unavailable(e),
    }
}

#[derive(Deserialize, Default)]
struct RotateBody {
    alg: Option<String>,
}

/// POST /admin/keys/rotate — `{"alg": "ES256"}`, or both algorithms without a body.
async fn rotate_keys(
    req: HttpRequest,
    body: Option<web::Json<RotateBody>>,
    services: web::Data<Services>,
) -> HttpResponse {
    let actor = admin!(req, services);
    let algs = match body.and_then(|b| b.into_inner().alg) {
        None => SigningAlg::ALL.to_vec(),
        Some(a) => match a.parse::<SigningAlg>() {
            Ok(alg) => vec![alg],
            Err(e) => return problem(StatusCode::BAD_REQUEST, "invalid_request", &e),
        },
    };
    let mut rotated = Vec::new();
    for alg in algs {
        match services.keys.rotate(alg, actor.clone()).await {
            Ok(kid) => rotated.push(json!({"alg": alg.as_str(), "kid": kid})),
            Err(e) => return unavailable(e),
        }
    }
    ok(StatusCode::OK, json!({"rotated": rotated}))
}

/// POST /admin/keys/{kid}/revoke
async fn revoke_key(
    req: HttpRequest,
    kid: web::Path<String>,
    services: web::Data<Services>,
) -> HttpResponse {
    let actor = admin!(req, services);
    match services.keys.revoke(kid.into_inner(), actor).await {
        Ok(revoked) => ok(StatusCode::OK, json!(revoked)),
        Err(KeyError::UnknownKid(kid)) => problem(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no signing key {kid}"),
        ),
        Err(e) => unavailable(e),
    }
}

/// GET /admin/users
async fn list_users(req: HttpRequest, services: web::Data<Services>) -> HttpResponse {
    admin!(req, services);
    match services.db.run(users::list).await {
        Ok(list) => ok(
            StatusCode::OK,
            json!({"users": list.iter().map(accounts::user_summary).collect::<Vec<_>>()}),
        ),
        Err(e) => unavailable(e),
    }
}

#[derive(Deserialize)]
struct NewUserBody {
    username: String,
    password: String,
    email: Option<String>,
    name: Option<String>,
}

/// POST /admin/users — `{"username", "password", "email"?, "name"?}`
async fn create_user(
    req: HttpRequest,
    body: web::Json<NewUserBody>,
    services: web::Data<Services>,
) -> HttpResponse {
    let actor = admin!(req, services);
    let body = body.into_inner();
    let new = NewUser {
        username: &body.username,
        email: body.email.as_deref(),
        name: body.name.as_deref(),
        password: &body.password,
    };
    let created = accounts::create_user_async(&services.db, &new).await;
    match created {
        Ok(user) => {
            record_async(
                &services.db,
                actor,
                "user.created",
                user.username.clone(),
                user.id.clone(),
            )
            .await;
            ok(StatusCode::CREATED, accounts::user_summary(&user))
        }
        Err(AccountError::Exists(name)) => problem(
            StatusCode::CONFLICT,
            "conflict",
            &format!("user {name} already exists"),
        ),
        Err(AccountError::Store(e)) => unavailable(e),
        Err(e) => problem(StatusCode::BAD_REQUEST, "invalid_request", &e.to_string()),
    }
}

/// POST /admin/users/{username}/disable — and revoke the user's refresh tokens.
async fn disable_user(
    req: HttpRequest,
    username: web::Path<String>,
    services: web::Data<Services>,
) -> HttpResponse {
    let actor = admin!(req, services);
    let username = username.into_inner();
    let name = username.clone();
    match services
        .db
        .write(move |conn| accounts::disable_user(conn, &name))
        .await
    {
        Ok(revoked) => {
            record_async(
                &services.db,
                actor,
                "user.disabled",
                username.clone(),
                String::new(),
            )
            .await;
            ok(
                StatusCode::OK,
                json!({"username": username, "disabled": true, "revoked_refresh_tokens": revoked}),
            )
        }
        Err(AccountError::NotFound(name)) => problem(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no user named {name}"),
        ),
        Err(e) => unavailable(e),
    }
}

/// GET /admin/clients
async fn list_clients(req: HttpRequest, services: web::Data<Services>) -> HttpResponse {
    admin!(req, services);
    match services.db.run(clients::list).await {
        Ok(list) => ok(
            StatusCode::OK,
            json!({"clients": list.iter().map(|c| c.summary()).collect::<Vec<_>>()}),
        ),
        Err(e) => unavailable(e),
    }
}

#[derive(Deserialize)]
struct NewClientBody {
    client_id: String,
    name: Option<String>,
    #[serde(default)]
    public: bool,
    grant_types: Option<Vec<String>>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    scope: Option<String>,
    audience: Option<String>,
    signing_alg: Option<String>,
    #[serde(default)]
    consent: bool,
    secret: Option<String>,
}

/// POST /admin/clients — a confidential client's generated secret is in the
/// answer, once.
async fn create_client(
    req: HttpRequest,
    body: web::Json<NewClientBody>,
    services: web::Data<Services>,
) -> HttpResponse {
    let actor = admin!(req, services);
    let body = body.into_inner();
    let bad = |m: String| problem(StatusCode::BAD_REQUEST, "invalid_request", &m);
    let grant_types = match &body.grant_types {
        Some(list) => match list
            .iter()
            .map(|g| g.parse::<GrantType>())
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(g) => g,
            Err(e) => return bad(e),
        },
        None if body.redirect_uris.is_empty() => vec![GrantType::Password, GrantType::RefreshToken],
        None => vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
    };
    let signing_alg = match body
        .signing_alg
        .as_deref()
        .unwrap_or("RS256")
        .parse::<SigningAlg>()
    {
        Ok(a) => a,
        Err(e) => return bad(e),
    };
    let given_secret = body.secret.is_some();
    let new = NewClient {
        client_id: body.client_id,
        name: body.name,
        public: body.public,
        grant_types,
        redirect_uris: body.redirect_uris,
        scope: body.scope.unwrap_or_else(|| "openid profile email".into()),
        audience: body.audience,
        signing_alg,
        secret: body.secret,
        consent: body.consent,
        post_logout_redirect_uris: body.post_logout_redirect_uris,
    };
    match services
        .db
        .write(move |conn| clients::register(conn, new))
        .await
    {
        Ok(registered) => {
            let id = registered.client.client_id.clone();
            record_async(&services.db, actor, "client.created", id, String::new()).await;
            let mut out = registered.client.summary();
            if let Some(secret) = registered.secret.filter(|_| !given_secret) {
                out["client_secret"] = json!(secret);
            }
            ok(StatusCode::CREATED, out)
        }
        Err(RegistrationError::Exists(id)) => problem(
            StatusCode::CONFLICT,
            "conflict",
            &format!("client {id} already exists"),
        ),
        Err(RegistrationError::Invalid(m)) => bad(m),
        Err(RegistrationError::Store(e)) => unavailable(e),
    }
}

/// DELETE /admin/clients/{client_id} — and every refresh token issued to it.
async fn remove_client(
    req: HttpRequest,
    client_id: web::Path<String>,
    services: web::Data<Services>,
) -> HttpResponse {
    let actor = admin!(req, services);
    let id = client_id.into_inner();
    let lookup = id.clone();
    match services
        .db
        .write(move |conn| store::clients::delete(conn, &lookup))
        .await
    {
        Ok(true) => {
            services.client_cache.forget(&id);
            record_async(&services.db, actor, "client.removed", id, String::new()).await;
            HttpResponse::NoContent().finish()
        }
        Ok(false) => problem(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no client named {id}"),
        ),
        Err::<_, StoreError>(e) => unavailable(e),
    }
}
