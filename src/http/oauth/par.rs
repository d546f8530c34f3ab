//! `POST /par` — RFC 9126 §2: form in, `request_uri` out.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::http::errors::OAuthError;
use crate::http::extract::{authorization_header, dpop_proofs, read_form, DPOP_NONCE};
use crate::http::State;
use crate::oauth::client_auth::ClientAuth;
use crate::oauth::dpop;
use crate::oauth::par::{self, PushRequest};

pub async fn push(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, OAuthError> {
    let params = read_form(&req, payload).await?;
    let client = ClientAuth::from_request(&params, authorization_header(&req)?)?;
    let proofs = dpop_proofs(&req)?;
    let proved = !proofs.is_empty();
    let pushed = par::push(
        &state.ctx,
        PushRequest {
            client,
            params,
            dpop_proofs: proofs,
        },
    )
    .await?;
    let mut created = HttpResponse::Created();
    created.insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(nonce) = dpop::next_nonce(&state.ctx).filter(|_| proved) {
        created.insert_header((DPOP_NONCE, nonce));
    }
    Ok(created.json(pushed))
}
