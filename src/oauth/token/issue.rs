//! Issuing, in one place: the access token (RFC 9068), the ID token (OIDC
//! Core §2) and the refresh tokens of a family (RFC 6749 §6, rotated per
//! RFC 9700 §4.14.2). Sender binding (`cnf`), `act` and audiences from
//! resource indicators will be added here, once, for every grant.

use serde::Serialize;
use serde_json::{Map, Value};

use super::grants::{token_exchange, Granted};
use crate::oauth::claims::{user_claims, RequestedClaims};
use crate::oauth::clients::{Client, GrantType};
use crate::oauth::{Context, Error, Scope};
use crate::secrets;
use crate::store::refresh_tokens::RefreshTokenRow;

/// RFC 6749 §5.1.
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// RFC 8693 §2.2.1, on a token exchange.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<&'static str>,
    /// A fresh DPoP nonce for the `DPoP-Nonce` header, not the body.
    #[serde(skip)]
    pub dpop_nonce: Option<String>,
}

/// RFC 7800 `cnf`, with RFC 9449 §6.1's `jkt`.
#[derive(Debug, Serialize)]
struct Confirmation<'a> {
    jkt: &'a str,
}

/// RFC 9068 §2.2. What `oauth::access_token` reads back.
#[derive(Debug, Serialize)]
struct AccessTokenClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: Aud<'a>,
    client_id: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    scope: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_time: Option<i64>,
    /// RFC 9068 §2.2.3: a user's token says how the login was proven.
    #[serde(skip_serializing_if = "<[&str]>::is_empty")]
    amr: &'a [&'static str],
    #[serde(skip_serializing_if = "Option::is_none")]
    acr: Option<&'static str>,
    /// Claims the `claims` parameter asked the userinfo endpoint for
    /// (OIDC Core §5.5): carried here because userinfo sees only this token.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    userinfo_claims: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    act: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<Confirmation<'a>>,
}

/// OIDC Core §2, with the user's claims (§5.1) flattened in.
#[derive(Debug, Serialize)]
struct IdTokenClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    azp: &'a str,
    iat: i64,
    exp: i64,
    auth_time: i64,
    /// RFC 8176 methods of the login.
    amr: Vec<&'static str>,
    /// The level the login reached (`pwd`, `mfa`, `phr`).
    acr: &'static str,
    at_hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(flatten)]
    user: Map<String, Value>,
}

/// An `aud` claim: one audience as a string, several as an array (RFC 7519 §4.1.3).
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Aud<'a> {
    One(&'a str),
    Many(&'a [String]),
}

/// The `aud` of an access token: the resources it was asked for (RFC 8707),
/// else the client's registered audience, else the issuer.
fn audience_of<'a>(client: &'a Client, resources: &'a [String], issuer: &'a str) -> Aud<'a> {
    match resources {
        [] => Aud::One(client.audience.as_deref().unwrap_or(issuer)),
        [one] => Aud::One(one),
        many => Aud::Many(many),
    }
}

/// Signs the access token (and the ID token when `openid` was granted to a user).
/// `dpop_jkt`: the key the request proved, which binds the access token.
pub fn tokens(
    ctx: &Context,
    client: &Client,
    granted: Granted,
    dpop_jkt: Option<&str>,
) -> Result<TokenResponse, Error> {
    let protocol = &ctx.protocol;
    let now = ctx.now();
    let signer = ctx.keys.signer(client.signing_alg)?;
    let scope = granted.scope.to_string();
    let no_claims = RequestedClaims::default();
    let requested = granted.requested.as_ref().unwrap_or(&no_claims);
    let user = granted.user.as_ref();
    let amr = user
        .map(|(_, login)| login.amr.values())
        .unwrap_or_default();
    let exp = match granted.not_after {
        Some(limit) => limit.min(now + protocol.access_token_ttl),
        None => now + protocol.access_token_ttl,
    };
    let access_claims = AccessTokenClaims {
        iss: &protocol.issuer,
        sub: user
            .map(|(u, _)| u.id.as_str())
            .or(granted.subject.as_deref())
            .unwrap_or(&client.client_id),
        aud: audience_of(client, &granted.audience, &protocol.issuer),
        client_id: &client.client_id,
        scope: &scope,
        iat: now,
        exp,
        jti: secrets::random_token(16),
        auth_time: user.map(|(_, login)| login.auth_time),
        amr: &amr,
        acr: user.map(|(_, login)| login.amr.acr().as_str()),
        userinfo_claims: &requested.userinfo,
        act: granted.act.as_ref(),
        cnf: dpop_jkt.map(|jkt| Confirmation { jkt }),
    };
    let access_token = signer.sign("at+jwt", &access_claims)?;
    ctx.metrics
        .token_issued(granted.grant.short_name(), client.signing_alg.as_str());
    let exchanged = granted.grant == GrantType::TokenExchange;
    let id_token = match user {
        // An exchange issues an access token only (RFC 8693 §2.2.1).
        Some((user, login)) if granted.scope.contains("openid") && !exchanged => {
            let claims = IdTokenClaims {
                iss: &protocol.issuer,
                sub: &user.id,
                aud: &client.client_id,
                azp: &client.client_id,
                iat: now,
                exp: now + protocol.access_token_ttl,
                auth_time: login.auth_time,
                amr: amr.clone(),
                acr: login.amr.acr().as_str(),
                at_hash: client.signing_alg.half_hash(&access_token),
                nonce: granted.nonce.as_deref(),
                user: user_claims(user, &granted.scope, &requested.id_token),
            };
            Some(signer.sign("JWT", &claims)?)
        }
        _ => None,
    };
    Ok(TokenResponse {
        access_token,
        token_type: if dpop_jkt.is_some() { "DPoP" } else { "Bearer" },
        expires_in: exp - now,
        refresh_token: granted.refresh_token,
        scope,
        id_token,
        issued_token_type: exchanged.then_some(token_exchange::ACCESS_TOKEN_TYPE),
        dpop_nonce: None,
    })
}

/// The first refresh token of a new family, for a fresh login.
pub struct NewFamily<'a> {
    pub client: &'a Client,
    pub user_id: &'a str,
    pub scope: &'a Scope,
    pub auth_time: i64,
    /// How the login was proven (RFC 8176, space-separated).
    pub amr: &'a str,
    pub session_id: Option<&'a str>,
    /// The resources (RFC 8707) the grant covers; refreshes stay within them.
    pub resources: &'a [String],
    pub family_id: String,
    /// The DPoP key of the request that started the family.
    pub dpop_jkt: Option<&'a str>,
    /// The family's lifetime, from now.
    pub ttl: i64,
    pub now: i64,
}

impl NewFamily<'_> {
    /// The token (256 random bits, given to the client) and its row (only
    /// its hash is stored).
    pub fn first_token(self) -> (String, RefreshTokenRow) {
        let token = secrets::random_token(32);
        let row = RefreshTokenRow {
            id: secrets::random_token(16),
            token_hash: secrets::sha256_hex(&token),
            family_id: self.family_id,
            parent_id: None,
            client_id: self.client.client_id.clone(),
            user_id: self.user_id.to_owned(),
            scope: self.scope.to_string(),
            auth_time: self.auth_time,
            issued_at: self.now,
            expires_at: self.now + self.ttl,
            used_at: None,
            revoked_at: None,
            session_id: self.session_id.map(str::to_owned),
            resources: self.resources.join(" "),
            // RFC 9449 §5: a public client's refresh tokens are bound to its
            // DPoP key; a confidential client's are bound by its
            // authentication already.
            dpop_jkt: self
                .dpop_jkt
                .filter(|_| self.client.is_public())
                .map(str::to_owned),
            amr: self.amr.to_owned(),
        };
        (token, row)
    }
}

/// The token that replaces `spent` in its family.
pub fn successor(spent: &RefreshTokenRow, now: i64) -> (String, RefreshTokenRow) {
    let token = secrets::random_token(32);
    let row = RefreshTokenRow {
        id: secrets::random_token(16),
        token_hash: secrets::sha256_hex(&token),
        family_id: spent.family_id.clone(),
        parent_id: Some(spent.id.clone()),
        client_id: spent.client_id.clone(),
        user_id: spent.user_id.clone(),
        // RFC 6749 §6: the new refresh token keeps the original scope even
        // when this access token is narrowed.
        scope: spent.scope.clone(),
        auth_time: spent.auth_time,
        issued_at: now,
        // The family's lifetime runs from the login: rotation never extends it.
        expires_at: spent.expires_at,
        used_at: None,
        revoked_at: None,
        session_id: spent.session_id.clone(),
        resources: spent.resources.clone(),
        dpop_jkt: spent.dpop_jkt.clone(),
        amr: spent.amr.clone(),
    };
    (token, row)
}
