//! `/admin/clients`: list, create, remove.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::{ok, AdminActor};
use crate::http::errors::AdminError;
use crate::http::State;
use crate::keys::SigningAlg;
use crate::oauth::clients::{
    self, profile, AuthMethod, GrantType, NewClient, Profile, DEFAULT_SCOPE,
};

/// GET /admin/clients
pub async fn list_clients(
    _: AdminActor,
    state: web::Data<State>,
) -> Result<HttpResponse, AdminError> {
    let list = state.ctx.db.run(clients::list).await?;
    let summaries: Vec<_> = list.iter().map(|c| c.summary()).collect();
    Ok(ok(StatusCode::OK, json!({ "clients": summaries })))
}

#[derive(Deserialize)]
pub struct NewClientBody {
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
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    exchange_audiences: Vec<String>,
    #[serde(default)]
    exchange_impersonation: bool,
    #[serde(default)]
    require_par: bool,
    #[serde(default)]
    require_dpop: bool,
    #[serde(default)]
    require_mfa: bool,
    profile: Option<String>,
    /// RFC 7591's name for the authentication method.
    token_endpoint_auth_method: Option<String>,
    /// A JWK Set (`private_key_jwt`).
    jwks: Option<serde_json::Value>,
    jwks_uri: Option<String>,
}

/// POST /admin/clients — a confidential client's generated secret is in the
/// answer, once.
pub async fn create_client(
    AdminActor(actor): AdminActor,
    body: web::Json<NewClientBody>,
    state: web::Data<State>,
) -> Result<HttpResponse, AdminError> {
    let body = body.into_inner();
    let grant_types = match &body.grant_types {
        Some(list) => list
            .iter()
            .map(|g| g.parse::<GrantType>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(AdminError::Invalid)?,
        None => NewClient::default_grant_types(&body.redirect_uris),
    };
    let profile = match body.profile.as_deref() {
        Some(name) => Some(name.parse::<Profile>().map_err(AdminError::Invalid)?),
        None => None,
    };
    let signing_alg = match body.signing_alg.as_deref() {
        Some(name) => name.parse::<SigningAlg>().map_err(AdminError::Invalid)?,
        None => profile::default_signing_alg(profile),
    };
    let auth_method = body
        .token_endpoint_auth_method
        .as_deref()
        .map(str::parse::<AuthMethod>)
        .transpose()
        .map_err(AdminError::Invalid)?;
    let given_secret = body.secret.is_some();
    let new = NewClient {
        client_id: body.client_id,
        name: body.name,
        public: body.public,
        grant_types,
        redirect_uris: body.redirect_uris,
        scope: body.scope.unwrap_or_else(|| DEFAULT_SCOPE.into()),
        audience: body.audience,
        signing_alg,
        secret: body.secret,
        consent: body.consent,
        require_par: body.require_par,
        require_dpop: body.require_dpop,
        require_mfa: body.require_mfa,
        profile,
        post_logout_redirect_uris: body.post_logout_redirect_uris,
        resources: body.resources,
        exchange_audiences: body.exchange_audiences,
        exchange_impersonation: body.exchange_impersonation,
        auth_method,
        jwks: body.jwks.filter(|v| !v.is_null()),
        jwks_uri: body.jwks_uri,
        ..NewClient::default()
    };
    let (now, outbound) = (state.ctx.now(), state.ctx.outbound.policy());
    let registered = state
        .ctx
        .db
        .write(move |conn| clients::register(conn, new, outbound, &actor, now))
        .await?;
    let mut out = registered.client.summary();
    if let Some(secret) = registered.secret.filter(|_| !given_secret) {
        out["client_secret"] = json!(secret);
    }
    Ok(ok(StatusCode::CREATED, out))
}

/// DELETE /admin/clients/{client_id} — and every refresh token issued to it.
pub async fn remove_client(
    AdminActor(actor): AdminActor,
    client_id: web::Path<String>,
    state: web::Data<State>,
) -> Result<HttpResponse, AdminError> {
    let id = client_id.into_inner();
    if !clients::remove_client(&state.ctx, &id, actor).await? {
        return Err(AdminError::NotFound(format!("no client named {id}")));
    }
    Ok(HttpResponse::NoContent().finish())
}
