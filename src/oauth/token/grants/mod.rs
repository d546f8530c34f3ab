//! One file per grant. Each checks what its RFC section asks and says what
//! was granted; none signs anything (that is `issue.rs`).

mod authorization_code;
mod client_credentials;
mod device_code;
mod password;
mod refresh_token;
pub mod token_exchange;

use super::Grant;
use crate::accounts::amr::Amr;
use crate::audit;
use crate::oauth::claims::RequestedClaims;
use crate::oauth::clients::{Client, GrantType};
use crate::oauth::{resource, Context, Error, Scope};
use crate::store::refresh_tokens as rt;
use crate::store::users::UserRow;
use crate::store::{DbConnection, StoreError};

/// When and how the user behind a grant logged in.
#[derive(Debug, Clone)]
pub struct Login {
    pub auth_time: i64,
    pub amr: Amr,
}

/// What a grant granted: to whom, which scope, and the refresh token it
/// made (if the client has the refresh grant).
pub struct Granted {
    pub grant: GrantType,
    /// The user and their login; `None` for client credentials.
    pub user: Option<(Box<UserRow>, Login)>,
    /// The `sub` of a token with no user, when it is not the client's own
    /// (an exchanged client-credentials token keeps its subject).
    pub subject: Option<String>,
    pub scope: Scope,
    pub refresh_token: Option<String>,
    pub nonce: Option<String>,
    pub requested: Option<RequestedClaims>,
    /// The resources (RFC 8707) the access token is for; empty for the
    /// client's default audience.
    pub audience: Vec<String>,
    /// RFC 8693 §4.1: who acts for the subject.
    pub act: Option<serde_json::Value>,
    /// The access token expires by then at the latest.
    pub not_after: Option<i64>,
}

/// A spent code or refresh token came back: an attacker, or a client
/// replaying a stolen one. Revokes the refresh family it led to (RFC 6749
/// §4.1.2, RFC 9700 §4.14.2) and records `action` in the audit trail.
/// Returns how many tokens were revoked.
fn theft_suspected(
    conn: &mut DbConnection,
    family_id: Option<&str>,
    client_id: &str,
    user_id: &str,
    action: &str,
    now: i64,
) -> Result<usize, StoreError> {
    let (revoked, detail) = match family_id {
        Some(family) => {
            let revoked = rt::revoke_family(conn, family, now)?;
            (
                revoked,
                format!("family {family} revoked ({revoked} tokens)"),
            )
        }
        None => (0, "no tokens were issued for it".to_owned()),
    };
    let actor = format!("client:{client_id}");
    audit::record_or_log(conn, now, &actor, action, user_id, &detail);
    tracing::warn!(
        client_id,
        user = user_id,
        revoked,
        action,
        "token replayed; its family was revoked"
    );
    Ok(revoked)
}

/// Runs the grant the request names, if the client may use it.
pub async fn run(
    ctx: &Context,
    client: &Client,
    grant: Grant,
    resources: &[String],
    address: Option<String>,
    dpop_jkt: Option<&str>,
) -> Result<Granted, Error> {
    let grant_type = grant.grant_type();
    if !client.allows(grant_type) {
        return Err(Error::unauthorized_client(format!(
            "this client may not use the {grant_type} grant"
        )));
    }
    match grant {
        Grant::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            let presented = authorization_code::Presented {
                code,
                redirect_uri,
                code_verifier,
                resources: resources.to_vec(),
                dpop_jkt: dpop_jkt.map(str::to_owned),
            };
            authorization_code::run(ctx, client, presented).await
        }
        Grant::Password {
            username,
            password,
            scope,
        } => {
            let audience = resource::registered(resources.to_vec(), client)?;
            let presented = password::Presented {
                username,
                password,
                scope,
                address,
                dpop_jkt,
            };
            password::run(ctx, client, presented, audience).await
        }
        Grant::RefreshToken {
            refresh_token,
            scope,
        } => {
            let jkt = dpop_jkt.map(str::to_owned);
            refresh_token::run(ctx, client, refresh_token, scope, resources.to_vec(), jkt).await
        }
        Grant::ClientCredentials { scope } => {
            let audience = resource::registered(resources.to_vec(), client)?;
            client_credentials::run(client, scope, audience)
        }
        Grant::DeviceCode { device_code } => {
            device_code::run(
                ctx,
                client,
                device_code,
                resources,
                dpop_jkt.map(str::to_owned),
            )
            .await
        }
        Grant::TokenExchange(exchange) => {
            token_exchange::run(ctx, client, exchange, resources).await
        }
    }
}
