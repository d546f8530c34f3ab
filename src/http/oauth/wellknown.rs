//! Discovery (RFC 8414, OIDC Discovery 1.0) and the JWKS (RFC 7517).

use crate::accounts::amr::Acr;
use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::http::State;
use crate::keys::SigningAlg;
use crate::oauth::clients::GrantType;
use crate::oauth::registration::Mode;
use crate::oauth::scope::USER_SCOPES;
use crate::oauth::{client_auth, dpop};

/// GET /.well-known/jwks.json — RFC 7517 §5: every published public key.
#[get("/.well-known/jwks.json")]
pub async fn jwks(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let doc = state.ctx.keys.jwks();
    let cache = format!("public, max-age={}", state.jwks_max_age);
    let not_modified = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == doc.etag || t.trim() == "*")
        });
    if not_modified {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, doc.etag.clone()))
            .insert_header((header::CACHE_CONTROL, cache))
            .finish();
    }
    HttpResponse::Ok()
        .insert_header((header::ETAG, doc.etag.clone()))
        .insert_header((header::CACHE_CONTROL, cache))
        .content_type("application/jwk-set+json")
        .body(doc.body.clone())
}

fn metadata(issuer: &str, registration: bool, require_par: bool) -> serde_json::Value {
    let algs: Vec<&str> = SigningAlg::ALL.iter().map(|a| a.as_str()).collect();
    let grants: Vec<&str> = GrantType::ALL.iter().map(|g| g.as_str()).collect();
    let mut doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "end_session_endpoint": format!("{issuer}/logout"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "device_authorization_endpoint": format!("{issuer}/device_authorization"),
        "pushed_authorization_request_endpoint": format!("{issuer}/par"),
        "require_pushed_authorization_requests": require_par,
        "dpop_signing_alg_values_supported": dpop::ALGS,
        "introspection_endpoint_auth_methods_supported": client_auth::CONFIDENTIAL_METHODS,
        "revocation_endpoint_auth_methods_supported": client_auth::METHODS,
        // The clients' private_key_jwt algorithms, not the server's own.
        "token_endpoint_auth_signing_alg_values_supported": client_auth::jwk::ALG_NAMES,
        "introspection_endpoint_auth_signing_alg_values_supported": client_auth::jwk::ALG_NAMES,
        "revocation_endpoint_auth_signing_alg_values_supported": client_auth::jwk::ALG_NAMES,
        "grant_types_supported": grants,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": client_auth::METHODS,
        "scopes_supported": USER_SCOPES,
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp", "at_hash",
                             "amr", "acr", "name", "preferred_username", "email", "email_verified"],
        "claims_parameter_supported": true,
        // OpenID EAP ACR Values 1.0 names, lowest first.
        "acr_values_supported": Acr::ALL.map(Acr::as_str),
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "access_token_signing_alg_values_supported": algs,
    });
    if registration {
        doc["registration_endpoint"] = json!(format!("{issuer}/register"));
    }
    doc
}

/// OIDC Discovery and RFC 8414 share one document, built on first use.
fn metadata_document(state: &State) -> HttpResponse {
    let body = state
        .discovery
        .get_or_init(|| {
            let registration = state.ctx.protocol.registration.mode != Mode::Off;
            let require_par = state.ctx.protocol.require_par;
            serde_json::to_vec(&metadata(state.ctx.issuer(), registration, require_par))
                .unwrap_or_default()
                .into()
        })
        .clone();
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .content_type("application/json")
        .body(body)
}

/// GET /.well-known/openid-configuration — OIDC Discovery 1.0 §4.
#[get("/.well-known/openid-configuration")]
pub async fn openid_configuration(state: web::Data<State>) -> HttpResponse {
    metadata_document(&state)
}

/// GET /.well-known/oauth-authorization-server — RFC 8414 §3.
#[get("/.well-known/oauth-authorization-server")]
pub async fn oauth_authorization_server(state: web::Data<State>) -> HttpResponse {
    metadata_document(&state)
}
