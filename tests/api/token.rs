use openidconnect::core::{
    CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
};
use openidconnect::{AccessToken, ClientId, IssuerUrl, JsonWebKeySetUrl, Nonce};
use portcullis::keys::SigningAlg;
use portcullis::oauth::clients::GrantType;

use crate::helpers::tokens::TokenResponse;
use crate::helpers::{spawn_app, ClientSpec, TestApp, PASSWORD};

/// Verifies an ID token the way an OpenID Connect relying party does, with
/// the `openidconnect` crate and keys fetched from the JWKS.
async fn verify_id_token(
    app: &TestApp,
    id_token: &str,
    client_id: &str,
    alg: CoreJwsSigningAlgorithm,
    access_token: &str,
) -> serde_json::Value {
    let jwks_url = JsonWebKeySetUrl::new(format!("{}/.well-known/jwks.json", app.address)).unwrap();
    let jwks = CoreJsonWebKeySet::fetch_async(&jwks_url, &app.http)
        .await
        .expect("JWKS fetched");
    let verifier = CoreIdTokenVerifier::new_public_client(
        ClientId::new(client_id.to_owned()),
        IssuerUrl::new(app.address.clone()).unwrap(),
        jwks,
    )
    .set_allowed_algs(vec![alg]);
    let token: CoreIdToken = id_token.parse().expect("ID token parses");
    let claims = token
        .claims(&verifier, |_: Option<&Nonce>| Ok::<(), String>(()))
        .expect("ID token verifies");
    // at_hash binds the ID token to the access token (OIDC Core §3.1.3.6).
    let expected = openidconnect::AccessTokenHash::from_token(
        &AccessToken::new(access_token.to_owned()),
        token.signing_alg().unwrap(),
        token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected));
    assert!(claims.auth_time().is_some());
    serde_json::to_value(claims).unwrap()
}

#[tokio::test]
async fn password_grant_issues_tokens_a_relying_party_verifies_with_the_jwks_rs256() {
    password_grant_round_trip(
        SigningAlg::Rs256,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        "RS256",
    )
    .await;
}

#[tokio::test]
async fn password_grant_issues_tokens_a_relying_party_verifies_with_the_jwks_es256() {
    password_grant_round_trip(
        SigningAlg::Es256,
        CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        "ES256",
    )
    .await;
}

#[tokio::test]
async fn password_grant_issues_tokens_a_relying_party_verifies_with_the_jwks_ps256() {
    password_grant_round_trip(
        SigningAlg::Ps256,
        CoreJwsSigningAlgorithm::RsaSsaPssSha256,
        "PS256",
    )
    .await;
}

/// openidconnect checks the EdDSA signature (Ed25519) and computes at_hash
/// with SHA-512, as the server does.
#[tokio::test]
async fn password_grant_issues_tokens_a_relying_party_verifies_with_the_jwks_eddsa() {
    password_grant_round_trip(SigningAlg::EdDsa, CoreJwsSigningAlgorithm::EdDsa, "EdDSA").await;
}

async fn password_grant_round_trip(
    alg: SigningAlg,
    oidc_alg: CoreJwsSigningAlgorithm,
    alg_name: &str,
) {
    let app = spawn_app().await;
    let sub = app.create_user("alice", PASSWORD).await;
    let secret = app
        .create_client(ClientSpec {
            alg,
            ..Default::default()
        })
        .await
        .unwrap();

    let res = app
        .post_token(
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", PASSWORD),
                ("scope", "openid profile email api:read"),
            ],
            Some(("app", &secret)),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body = TokenResponse::read(res).await;
    assert_eq!(body.token_type, "Bearer");
    assert_eq!(body.expires_in, 300);
    assert_eq!(body.scope, "openid profile email api:read");
    let refresh = body.refresh();
    assert!(
        refresh.len() >= 43,
        "refresh token carries at least 256 bits"
    );

    let access = body.access_token.as_str();
    let header = jsonwebtoken::decode_header(access).unwrap();
    assert_eq!(format!("{:?}", header.alg), alg_name);
    let claims = app
        .verify_access_token(access, &app.address)
        .await
        .expect("access token verifies");
    assert_eq!(claims["iss"], app.address.as_str());
    assert_eq!(claims["sub"], sub.as_str());
    assert_eq!(claims["aud"], app.address.as_str());
    assert_eq!(claims["client_id"], "app");
    assert_eq!(claims["scope"], "openid profile email api:read");
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert_eq!(exp - iat, 300);

    let id_claims = verify_id_token(&app, body.id(), "app", oidc_alg, access).await;
    assert_eq!(id_claims["sub"], sub.as_str());
    assert_eq!(id_claims["azp"], "app");
    assert_eq!(id_claims["preferred_username"], "alice");
    assert_eq!(id_claims["email"], "user@example.com");
    assert_eq!(id_claims["name"], "Test User");

    // The server verifies its own token, whatever the algorithm.
    let res = app.get_with_bearer("/userinfo", access).await;
    assert_eq!(res.status(), 200, "{alg}: userinfo refused the token");
    let info: serde_json::Value = res.json().await.unwrap();
    assert_eq!(info["sub"], sub.as_str());

    // A verifier that pins the wrong audience must refuse the token.
    assert!(app
        .verify_access_token(access, "someone-else")
        .await
        .is_err());
}

#[tokio::test]
async fn no_id_token_without_openid_and_claims_follow_scope() {
    let app = spawn_app().await;
    app.create_user("bob", PASSWORD).await;
    let secret = app.create_client(ClientSpec::default()).await.unwrap();
    let body = app
        .password_tokens(("app", &secret), ("bob", PASSWORD), "api:read")
        .await;
    assert!(body.get("id_token").is_none());
    let body = app
        .password_token_pair(("app", &secret), ("bob", PASSWORD), "openid")
        .await;
    let id_token = body.id();
    let verifier_claims = verify_id_token(
        &app,
        id_token,
        "app",
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        &body.access_token,
    )
    .await;
    assert!(
        verifier_claims.get("email").is_none(),
        "email needs the email scope"
    );
    assert!(
        verifier_claims.get("preferred_username").is_none(),
        "profile claims need the profile scope"
    );
}

#[tokio::test]
async fn client_secret_post_and_public_clients_authenticate() {
    let app = spawn_app().await;
    app.create_user("carol", PASSWORD).await;
    let secret = app.create_client(ClientSpec::default()).await.unwrap();
    app.create_client(ClientSpec {
        id: "spa",
        public: true,
        ..Default::default()
    })
    .await;

    let res = app
        .post_token(
            &[
                ("grant_type", "password"),
                ("username", "carol"),
                ("password", PASSWORD),
                ("client_id", "app"),
                ("client_secret", &secret),
            ],
            None,
        )
        .await;
    assert_eq!(res.status(), 200);

    let res = app
        .post_token(
            &[
                ("grant_type", "password"),
                ("username", "carol"),
                ("password", PASSWORD),
                ("client_id", "spa"),
            ],
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    let body = TokenResponse::read(res).await;
    assert!(app
        .verify_access_token(&body.access_token, &app.address)
        .await
        .is_ok());
}

/// A client's access tokens are signed with its algorithm's active key:
/// the header names a key of that algorithm in the JWKS, the token verifies
/// with that public JWK alone, and the server accepts it back
/// (introspection).
#[tokio::test]
async fn client_credentials_tokens_are_signed_with_the_clients_algorithm() {
    let app = spawn_app().await;
    let jwks: serde_json::Value = app
        .http
        .get(format!("{}/.well-known/jwks.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (id, alg) in [
        ("cc-ps256", SigningAlg::Ps256),
        ("cc-eddsa", SigningAlg::EdDsa),
    ] {
        let secret = app
            .create_client(ClientSpec {
                id,
                grants: &[GrantType::ClientCredentials],
                alg,
                ..Default::default()
            })
            .await
            .unwrap();
        let res = app
            .post_token(&[("grant_type", "client_credentials")], Some((id, &secret)))
            .await;
        assert_eq!(res.status(), 200);
        let token = TokenResponse::read(res).await.access_token;
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, alg.jwt_algorithm(), "{id}");
        let kid = header.kid.expect("a kid");
        let jwk = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid.as_str())
            .unwrap_or_else(|| panic!("{id}: kid {kid} is not in the JWKS"));
        assert_eq!(jwk["alg"], alg.as_str(), "{id}");
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone()).unwrap();
        let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(alg.jwt_algorithm());
        validation.set_audience(&[&app.address]);
        validation.set_issuer(&[&app.address]);
        let claims = jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation)
            .unwrap_or_else(|e| panic!("{id}: {e}"))
            .claims;
        assert_eq!(claims["client_id"], id);

        let info = app.introspect(&token, (id, &secret)).await;
        assert_eq!(info["active"], true, "{id}: {info}");
        assert_eq!(info["client_id"], id);
    }
}

#[tokio::test]
async fn client_credentials_issue_an_access_token_for_the_client() {
    let app = spawn_app().await;
    let secret = app
        .create_client(ClientSpec {
            id: "worker",
            grants: &[GrantType::ClientCredentials],
            audience: Some("https://api.example.com"),
            alg: SigningAlg::Es256,
            ..Default::default()
        })
        .await
        .unwrap();
    let res = app
        .post_token(
            &[("grant_type", "client_credentials"), ("scope", "api:read")],
            Some(("worker", &secret)),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body.get("refresh_token").is_none(),
        "RFC 6749 §4.4.3: no refresh token"
    );
    assert!(body.get("id_token").is_none());
    let claims = app
        .verify_access_token(
            body["access_token"].as_str().unwrap(),
            "https://api.example.com",
        )
        .await
        .expect("verifies with the client's audience");
    assert_eq!(claims["sub"], "worker");
    assert_eq!(claims["client_id"], "worker");
    assert_eq!(claims["scope"], "api:read");
    assert!(claims.get("auth_time").is_none());

    // Without a scope the client gets what it is registered for, minus the user scopes.
    let res = app
        .post_token(
            &[("grant_type", "client_credentials")],
            Some(("worker", &secret)),
        )
        .await;
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["scope"], "api:read api:write");

    // User scopes make no sense without a user.
    let res = app
        .post_token(
            &[("grant_type", "client_credentials"), ("scope", "openid")],
            Some(("worker", &secret)),
        )
        .await;
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_scope");
}

#[tokio::test]
async fn a_disabled_user_gets_invalid_grant_and_loses_its_refresh_tokens() {
    let app = spawn_app().await;
    app.create_user("dave", PASSWORD).await;
    let secret = app.create_client(ClientSpec::default()).await.unwrap();
    let body = app
        .password_token_pair(("app", &secret), ("dave", PASSWORD), "openid")
        .await;
    let refresh = body.refresh();

    let out = app.cli(&["user", "disable", "dave"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 refresh token(s) revoked"));

    let res = app
        .post_token(
            &[
                ("grant_type", "password"),
                ("username", "dave"),
                ("password", PASSWORD),
            ],
            Some(("app", &secret)),
        )
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    let res = app
        .post_token(
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
            Some(("app", &secret)),
        )
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_grant"
    );
}
