//! Token exchange (RFC 8693): a service that received a user's token trades
//! it for one meant for the next service, as a delegate (`act`) or, when
//! registered for it, by impersonation.

use portcullis::keys::SigningAlg;
use portcullis::oauth::clients::GrantType;
use serde_json::{json, Value};

use crate::helpers::tokens::TokenResponse;
use crate::helpers::{error_of, spawn_app_with, AppOptions, ClientSpec, TestApp, PASSWORD};

const ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// alice; `web` (its tokens are for `svc-a`); `svc-a`, which may exchange
/// for `svc-b`; `svc-b`, which may exchange for `svc-c`; `imp`, which may
/// impersonate for `svc-b`. Returns the app and the secrets by name.
struct Mesh {
    app: TestApp,
    web: String,
    a: String,
    b: String,
    imp: String,
}

async fn mesh() -> Mesh {
    let app = spawn_app_with(AppOptions {
        manual_clock: true,
        ..Default::default()
    })
    .await;
    app.create_user("alice", PASSWORD).await;
    let web = app
        .create_client(ClientSpec {
            id: "web",
            audience: Some("svc-a"),
            ..Default::default()
        })
        .await
        .unwrap();
    let service = |id: &'static str, to: &'static [&'static str], imp: bool| ClientSpec {
        id,
        grants: &[GrantType::TokenExchange, GrantType::ClientCredentials],
        exchange_audiences: to,
        exchange_impersonation: imp,
        scope: "openid profile email api:read api:write",
        ..Default::default()
    };
    let a = app
        .create_client(service("svc-a", &["svc-b"], false))
        .await
        .unwrap();
    let b = app
        .create_client(service("svc-b", &["svc-c"], false))
        .await
        .unwrap();
    let imp = app
        .create_client(ClientSpec {
            audience: Some("svc-a"),
            ..service("imp", &["svc-b"], true)
        })
        .await
        .unwrap();
    Mesh {
        app,
        web,
        a,
        b,
        imp,
    }
}

impl Mesh {
    /// alice's access token from `web`, meant for svc-a.
    async fn user_token(&self) -> TokenResponse {
        let client = ("web", self.web.as_str());
        self.app
            .password_token_pair(client, ("alice", PASSWORD), "openid api:read api:write")
            .await
    }

    /// A client's own token, to present as the actor.
    async fn own_token(&self, id: &str, secret: &str) -> String {
        let res = self
            .app
            .post_token(&[("grant_type", "client_credentials")], Some((id, secret)))
            .await;
        TokenResponse::read(res).await.access_token
    }

    async fn exchange(&self, client: (&str, &str), form: &[(&str, &str)]) -> reqwest::Response {
        let mut all = vec![("grant_type", EXCHANGE)];
        all.extend_from_slice(form);
        self.app.post_token(&all, Some(client)).await
    }
}

impl Mesh {
    /// svc-a exchanges `subject`, acting with `actor`.
    async fn delegate(&self, subject: &str, actor: &str) -> reqwest::Response {
        self.exchange(
            ("svc-a", &self.a),
            &[
                ("subject_token", subject),
                ("subject_token_type", ACCESS),
                ("actor_token", actor),
                ("actor_token_type", ACCESS),
            ],
        )
        .await
    }
}

/// What a refused exchange tried: a name, the client, the form, the error.
type Case<'a> = (
    &'a str,
    (&'a str, &'a str),
    Vec<(&'a str, &'a str)>,
    &'a str,
);

#[tokio::test]
async fn a_delegated_token_names_its_actor_and_verifies_from_the_jwks() {
    let m = mesh().await;
    let user = m.user_token().await;
    let actor = m.own_token("svc-a", &m.a).await;
    let res = m
        .exchange(
            ("svc-a", &m.a),
            &[
                ("subject_token", &user.access_token),
                ("subject_token_type", ACCESS),
                ("actor_token", &actor),
                ("actor_token_type", JWT),
                ("audience", "svc-b"),
                ("scope", "api:read"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["issued_token_type"], ACCESS);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "api:read");
    assert!(body.get("refresh_token").is_none() && body.get("id_token").is_none());
    let token = body["access_token"].as_str().unwrap();
    let claims = m.app.verify_access_token(token, "svc-b").await.unwrap();
    let alice = crate::helpers::unverified_claims(&user.access_token)["sub"].clone();
    assert_eq!(claims["sub"], alice);
    assert_eq!(claims["client_id"], "svc-a");
    assert_eq!(claims["act"], json!({"sub": "svc-a", "client_id": "svc-a"}));
    // It does not outlive the token it was traded for.
    let subject_exp = crate::helpers::unverified_claims(&user.access_token)["exp"].clone();
    assert!(claims["exp"].as_i64() <= subject_exp.as_i64());
    // svc-b, its audience, sees the actor when it introspects.
    let seen = m.app.introspect(token, ("svc-b", &m.b)).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["act"]["sub"], "svc-a");

    // svc-b passes it on: the actors nest, the current one outermost.
    let b_actor = m.own_token("svc-b", &m.b).await;
    let res = m
        .exchange(
            ("svc-b", &m.b),
            &[
                ("subject_token", token),
                ("subject_token_type", ACCESS),
                ("actor_token", &b_actor),
                ("actor_token_type", ACCESS),
            ],
        )
        .await;
    let chained = TokenResponse::read(res).await;
    let claims = m
        .app
        .verify_access_token(&chained.access_token, "svc-c")
        .await
        .unwrap();
    assert_eq!(claims["sub"], alice);
    assert_eq!(
        claims["act"],
        json!({"sub": "svc-b", "client_id": "svc-b", "act": {"sub": "svc-a", "client_id": "svc-a"}})
    );
}

/// Subject and actor tokens are verified whatever they were signed with:
/// an EdDSA user token and a PS256 actor token trade for a token signed
/// with the exchanging client's algorithm.
#[tokio::test]
async fn subject_and_actor_tokens_of_the_new_algorithms_are_accepted() {
    let app = spawn_app_with(AppOptions::default()).await;
    app.create_user("alice", PASSWORD).await;
    let web = app
        .create_client(ClientSpec {
            id: "web",
            audience: Some("svc-a"),
            alg: SigningAlg::EdDsa,
            ..Default::default()
        })
        .await
        .unwrap();
    let a = app
        .create_client(ClientSpec {
            id: "svc-a",
            grants: &[GrantType::TokenExchange, GrantType::ClientCredentials],
            exchange_audiences: &["svc-b"],
            alg: SigningAlg::Ps256,
            ..Default::default()
        })
        .await
        .unwrap();
    let alg_of = |token: &str| jsonwebtoken::decode_header(token).unwrap().alg;
    let user = app
        .password_token_pair(("web", &web), ("alice", PASSWORD), "openid api:read")
        .await;
    assert_eq!(alg_of(&user.access_token), jsonwebtoken::Algorithm::EdDSA);
    let res = app
        .post_token(&[("grant_type", "client_credentials")], Some(("svc-a", &a)))
        .await;
    let actor = TokenResponse::read(res).await.access_token;
    assert_eq!(alg_of(&actor), jsonwebtoken::Algorithm::PS256);
    let res = app
        .post_token(
            &[
                ("grant_type", EXCHANGE),
                ("subject_token", &user.access_token),
                ("subject_token_type", ACCESS),
                ("actor_token", &actor),
                ("actor_token_type", ACCESS),
                ("audience", "svc-b"),
            ],
            Some(("svc-a", &a)),
        )
        .await;
    assert_eq!(res.status(), 200);
    let exchanged = TokenResponse::read(res).await.access_token;
    assert_eq!(alg_of(&exchanged), jsonwebtoken::Algorithm::PS256);
    let claims = app.verify_access_token(&exchanged, "svc-b").await.unwrap();
    assert_eq!(claims["act"]["sub"], "svc-a");
}

#[tokio::test]
async fn impersonation_needs_its_registration() {
    let m = mesh().await;
    let user = m.user_token().await;
    let subject = [
        ("subject_token", user.access_token.as_str()),
        ("subject_token_type", ACCESS),
        ("audience", "svc-b"),
    ];
    let res = m.exchange(("svc-a", &m.a), &subject).await;
    assert_eq!(error_of(res).await, (400, "invalid_request".into()));
    // `imp` (also an audience of web's tokens) may.
    let res = m.exchange(("imp", &m.imp), &subject).await;
    let tokens = TokenResponse::read(res).await;
    let claims = m
        .app
        .verify_access_token(&tokens.access_token, "svc-b")
        .await
        .unwrap();
    assert!(claims.get("act").is_none(), "{claims}");
    assert_eq!(claims["client_id"], "imp");
}

#[tokio::test]
async fn every_refusal_has_its_rfc_8693_error() {
    let m = mesh().await;
    let user = m.user_token().await;
    let actor = m.own_token("svc-a", &m.a).await;
    let t = user.access_token.as_str();
    let a = ("svc-a", m.a.as_str());
    let cases: Vec<Case> = vec![
        (
            "no subject_token",
            a,
            vec![("subject_token_type", ACCESS)],
            "invalid_request",
        ),
        (
            "no subject_token_type",
            a,
            vec![("subject_token", t)],
            "invalid_request",
        ),
        (
            "an ID token type",
            a,
            vec![
                ("subject_token", t),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:id_token",
                ),
            ],
            "invalid_request",
        ),
        (
            "actor without type",
            a,
            vec![
                ("subject_token", t),
                ("subject_token_type", ACCESS),
                ("actor_token", &actor),
            ],
            "invalid_request",
        ),
        (
            "a refresh token as requested type",
            a,
            vec![
                ("subject_token", t),
                ("subject_token_type", ACCESS),
                ("actor_token", &actor),
                ("actor_token_type", ACCESS),
                (
                    "requested_token_type",
                    "urn:ietf:params:oauth:token-type:refresh_token",
                ),
            ],
            "invalid_request",
        ),
        (
            "an audience not registered",
            a,
            vec![
                ("subject_token", t),
                ("subject_token_type", ACCESS),
                ("actor_token", &actor),
                ("actor_token_type", ACCESS),
                ("audience", "svc-c"),
            ],
            "invalid_target",
        ),
        (
            "a wider scope",
            a,
            vec![
                ("subject_token", t),
                ("subject_token_type", ACCESS),
                ("actor_token", &actor),
                ("actor_token_type", ACCESS),
                ("scope", "api:read admin"),
            ],
            "invalid_scope",
        ),
        (
            "a token not for this client",
            ("svc-b", m.b.as_str()),
            vec![
                ("subject_token", t),
                ("subject_token_type", ACCESS),
                ("actor_token", &actor),
                ("actor_token_type", ACCESS),
            ],
            "invalid_grant",
        ),
        (
            "a forged subject",
            a,
            vec![
                ("subject_token", "eyJhbGciOiJub25lIn0.e30.x"),
                ("subject_token_type", ACCESS),
                ("actor_token", &actor),
                ("actor_token_type", ACCESS),
            ],
            "invalid_grant",
        ),
        (
            "a forged actor",
            a,
            vec![
                ("subject_token", t),
                ("subject_token_type", ACCESS),
                ("actor_token", "eyJhbGciOiJub25lIn0.e30.x"),
                ("actor_token_type", ACCESS),
            ],
            "invalid_grant",
        ),
        (
            "a client not registered for exchange",
            ("web", m.web.as_str()),
            vec![("subject_token", t), ("subject_token_type", ACCESS)],
            "unauthorized_client",
        ),
    ];
    for (what, client, form, expected) in cases {
        let res = m.exchange(client, &form).await;
        assert_eq!(error_of(res).await, (400, expected.to_owned()), "{what}");
    }
    // Nothing in that list spent anything: the subject still exchanges.
    let res = m
        .exchange(
            a,
            &[
                ("subject_token", t),
                ("subject_token_type", ACCESS),
                ("actor_token", &actor),
                ("actor_token_type", ACCESS),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_revoked_or_expired_subject_or_a_disabled_user_is_invalid_grant() {
    let m = mesh().await;
    let actor = m.own_token("svc-a", &m.a).await;
    // Revoked by the client it was issued to.
    let revoked = m.user_token().await.access_token;
    let res = m
        .app
        .post_form("/revoke", &[("token", &revoked)], Some(("web", &m.web)))
        .await;
    assert_eq!(res.status(), 200);
    let res = m.delegate(&revoked, &actor).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".into()));
    // Expired (5 minutes by default).
    let old = m.user_token().await.access_token;
    m.app.advance(301);
    let actor = m.own_token("svc-a", &m.a).await;
    let res = m.delegate(&old, &actor).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".into()));
    // Its user disabled.
    let live = m.user_token().await.access_token;
    let out = m.app.cli(&["user", "disable", "alice"], None);
    assert!(out.status.success(), "{out:?}");
    let res = m.delegate(&live, &actor).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".into()));
}
