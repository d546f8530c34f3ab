//! `/admin/keys`: list, rotate, revoke.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::{ok, AdminActor};
use crate::http::errors::AdminError;
use crate::http::State;
use crate::keys::{lifecycle, SigningAlg};
use crate::store::keys as key_rows;

/// GET /admin/keys
pub async fn list_keys(_: AdminActor, state: web::Data<State>) -> Result<HttpResponse, AdminError> {
    let keys = state.ctx.db.run(key_rows::list).await?;
    let now = state.ctx.now();
    let summaries: Vec<_> = keys
        .iter()
        .map(|k| lifecycle::key_summary(k, now))
        .collect();
    Ok(ok(StatusCode::OK, json!({ "keys": summaries })))
}

#[derive(Deserialize, Default)]
pub struct RotateBody {
    alg: Option<String>,
}

/// POST /admin/keys/rotate — `{"alg": "ES256"}`, or every algorithm without a body.
pub async fn rotate_keys(
    AdminActor(actor): AdminActor,
    body: Option<web::Json<RotateBody>>,
    state: web::Data<State>,
) -> Result<HttpResponse, AdminError> {
    let algs = match body.and_then(|b| b.into_inner().alg) {
        None => SigningAlg::ALL.to_vec(),
        Some(a) => vec![a.parse::<SigningAlg>().map_err(AdminError::Invalid)?],
    };
    let mut rotated = Vec::new();
    for alg in algs {
        let kid = state.ctx.keys.rotate(alg, actor.clone()).await?;
        rotated.push(json!({"alg": alg.as_str(), "kid": kid}));
    }
    Ok(ok(StatusCode::OK, json!({ "rotated": rotated })))
}

/// POST /admin/keys/{kid}/revoke
pub async fn revoke_key(
    AdminActor(actor): AdminActor,
    kid: web::Path<String>,
    state: web::Data<State>,
) -> Result<HttpResponse, AdminError> {
    let revoked = state.ctx.keys.revoke(kid.into_inner(), actor).await?;
    Ok(ok(StatusCode::OK, json!(revoked)))
}
