//! Where the browser goes next, once a request is validated: back to the
//! client with a code or an error, or to the login or consent page with the
//! request parked until the page is done. The HTTP layer only turns an
//! [`Outcome`] into a response.

use super::{
    error_redirect, issue_code, next_step, redirect_url, response, save_pending, AuthorizeRequest,
    Next,
};
use crate::accounts::sessions::LiveSession;
use crate::oauth::clients::Client;
use crate::oauth::{Context, Error, ErrorCode, Scope};
use crate::secrets;
use crate::store::authorization::{self as rows, PendingRow};
use crate::store::{pushed_requests, StoreError};

/// What the browser is sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Back to the client: a code or an error (RFC 6749 §4.1.2).
    Redirect(String),
    /// To a Portcullis page (login or consent) for the parked request.
    /// `new_flow_cookie` is the browser binding to set when it had none.
    Page {
        location: String,
        new_flow_cookie: Option<String>,
    },
}

/// Decides for a validated request. `pending` is the parked request when
/// this continues one after a page; `flow_cookie` the browser's binding.
pub async fn proceed(
    ctx: &Context,
    client: &Client,
    request: AuthorizeRequest,
    session: Option<&LiveSession>,
    pending: Option<PendingRow>,
    flow_cookie: Option<&str>,
) -> Result<Outcome, StoreError> {
    let consented = match (session, client.consent) {
        (Some(s), true) => {
            let (user_id, client_id) = (s.user.id.clone(), client.client_id.clone());
            let stored = ctx
                .db
                .run(move |conn| rows::find_consent(conn, &user_id, &client_id))
                .await?;
            stored.map(|s| Scope::from_stored(&s)).transpose()?
        }
        _ => None,
    };
    let next = next_step(
        &request,
        client,
        session,
        consented.as_ref(),
        pending.as_ref().map(|p| p.created_at),
        ctx.now(),
        ctx.protocol.mfa_floor(),
    );
    match next {
        Err(error) => Ok(Outcome::Redirect(error_redirect(
            &request.redirect_uri,
            request.state.as_deref(),
            &error,
            ctx.issuer(),
        ))),
        Ok(Next::IssueCode(session)) => {
            let url = issue_code_redirect(ctx, request, session, pending.map(|p| p.id)).await?;
            Ok(Outcome::Redirect(url))
        }
        Ok(Next::Login) => park(ctx, "/login", request, pending, flow_cookie).await,
        Ok(Next::StepUp) => park(ctx, "/login/second-factor", request, pending, flow_cookie).await,
        Ok(Next::Consent) => park(ctx, "/consent", request, pending, flow_cookie).await,
    }
}

/// FAPI 2.0 Security Profile §5.3.2.1: an authorization code's lifetime.
pub const FAPI2_MAX_CODE_TTL: i64 = 60;

/// Whether the request's client is held to FAPI 2.0 (from the client cache;
/// a client gone since is not).
async fn client_is_fapi2(ctx: &Context, client_id: &str) -> bool {
    matches!(
        ctx.clients.get_or_load(&ctx.db, client_id).await,
        Ok(Some(client)) if client.is_fapi2()
    )
}

/// Issues the code, ends the parked request, and says where to send the
/// browser (RFC 6749 §4.1.2, with `iss` per RFC 9207).
pub async fn issue_code_redirect(
    ctx: &Context,
    request: AuthorizeRequest,
    session: &LiveSession,
    pending_id: Option<String>,
) -> Result<String, StoreError> {
    let mut ttl = ctx.protocol.code_ttl;
    if client_is_fapi2(ctx, &request.client_id).await {
        // FAPI 2.0 §5.3.2.1: codes live at most 60 seconds.
        ttl = ttl.min(FAPI2_MAX_CODE_TTL);
    }
    let now = ctx.now();
    let (req, session) = (request.clone(), session.clone());
    let code = ctx
        .db
        .write(move |conn| {
            // A pushed request gives one code: of two tabs, one gets it.
            if let Some(pushed) = &req.pushed {
                if !pushed_requests::spend(conn, pushed, now)? {
                    return Ok::<_, StoreError>(None);
                }
            }
            let code = issue_code(conn, &req, &session, now, ttl)?;
            if let Some(id) = pending_id {
                rows::delete_pending(conn, &id)?;
            }
            Ok(Some(code))
        })
        .await?;
    let Some(code) = code else {
        let error = Error::invalid_request("this pushed authorization request was already used");
        return Ok(error_redirect(
            &request.redirect_uri,
            request.state.as_deref(),
            &error,
            ctx.issuer(),
        ));
    };
    Ok(response::code_redirect(
        &request.redirect_uri,
        &code,
        request.state.as_deref(),
        ctx.issuer(),
    ))
}

/// The user allowed a third-party client on the consent page: the consent
/// is kept (so the page is not shown again for this scope), and a code issued.
pub async fn consent_given(
    ctx: &Context,
    request: AuthorizeRequest,
    session: &LiveSession,
    pending_id: String,
) -> Result<String, StoreError> {
    let (user_id, client_id, scope, now) = (
        session.user.id.clone(),
        request.client_id.clone(),
        request.scope.clone(),
        ctx.now(),
    );
    ctx.db
        .write(move |conn| rows::save_consent(conn, &user_id, &client_id, &scope, now))
        .await?;
    issue_code_redirect(ctx, request, session, Some(pending_id)).await
}

/// The user declined: the client hears `access_denied`.
pub async fn consent_declined(
    ctx: &Context,
    request: &AuthorizeRequest,
    pending_id: String,
) -> String {
    // Best effort: an undeleted pending request expires on its own.
    if let Err(e) = ctx
        .db
        .write(move |conn| rows::delete_pending(conn, &pending_id))
        .await
    {
        tracing::warn!(error = %e, "could not delete a declined pending request");
    }
    let error = Error::new(ErrorCode::AccessDenied, "the user declined");
    error_redirect(
        &request.redirect_uri,
        request.state.as_deref(),
        &error,
        ctx.issuer(),
    )
}

/// Parks the request (unless it is parked already) and sends the browser
/// to `page`.
async fn park(
    ctx: &Context,
    page: &str,
    request: AuthorizeRequest,
    pending: Option<PendingRow>,
    flow_cookie: Option<&str>,
) -> Result<Outcome, StoreError> {
    let existing = flow_cookie.filter(|v| v.len() == 43).map(str::to_owned);
    let browser = existing
        .clone()
        .unwrap_or_else(|| secrets::random_token(32));
    let id = match pending {
        Some(p) => p.id,
        None => {
            let (b, now) = (browser.clone(), ctx.now());
            ctx.db
                .write(move |conn| save_pending(conn, &request, &b, now))
                .await?
                .id
        }
    };
    let location = redirect_url(
        &format!("{}{page}", ctx.issuer()),
        &[("request", Some(&id))],
    );
    Ok(Outcome::Page {
        location,
        new_flow_cookie: existing.is_none().then_some(browser),
    })
}
