//! The authorization-code flow with PKCE end to end: an `openidconnect`
//! relying party logs in, and the token endpoint checks what the code was
//! bound to and refuses a code twice.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse as _,
};
use serde_json::Value;

use crate::helpers::browser::{
    authorize_url, exchange, login_through, query_param, sso_setup, Browser, CALLBACK,
};
use crate::helpers::tokens::TokenResponse;
use crate::helpers::PASSWORD;

#[tokio::test]
async fn an_openidconnect_relying_party_logs_in_with_pkce_and_verifies_the_id_token() {
    let (app, secret, _) = sso_setup().await;
    let provider = CoreProviderMetadata::discover_async(
        IssuerUrl::new(app.address.clone()).unwrap(),
        &app.http,
    )
    .await
    .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        provider,
        ClientId::new("web".into()),
        Some(ClientSecret::new(secret)),
    )
    .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();

    let browser = Browser::new();
    let callback = login_through(&browser, url.as_str(), "alice", PASSWORD).await;
    assert!(callback.starts_with(CALLBACK), "{callback}");
    assert_eq!(
        query_param(&callback, "state").as_deref(),
        Some(state.secret().as_str())
    );
    assert_eq!(
        query_param(&callback, "iss").as_deref(),
        Some(app.address.as_str()),
        "RFC 9207"
    );
    let code = query_param(&callback, "code").unwrap();
    assert!(code.len() >= 22, "at least 128 bits");

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&app.http)
        .await
        .expect("code exchange");
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("ID token verifies (signature, iss, aud, exp, nonce)");
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected_hash));
    assert!(claims.auth_time().is_some());
    assert_eq!(
        claims.preferred_username().map(|u| u.as_str()),
        Some("alice")
    );
    assert_eq!(claims.email().map(|e| e.as_str()), Some("user@example.com"));
    assert!(tokens.refresh_token().is_some());

    let userinfo: CoreUserInfoClaims = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(&app.http)
        .await
        .expect("userinfo");
    assert_eq!(
        userinfo.preferred_username().map(|u| u.as_str()),
        Some("alice")
    );

    // The access token also verifies as an RFC 9068 token against the JWKS.
    let at = app
        .verify_access_token(tokens.access_token().secret(), &app.address)
        .await
        .unwrap();
    assert_eq!(at["sub"], claims.subject().as_str());
}

#[tokio::test]
async fn a_replayed_code_is_refused_and_revokes_what_it_bought() {
    let (app, secret, _) = sso_setup().await;
    let (url, verifier) = authorize_url(&app, "web", CALLBACK, &[]);
    let callback = login_through(&Browser::new(), &url, "alice", PASSWORD).await;
    let code = query_param(&callback, "code").unwrap();
    let res = exchange(&app, ("web", &secret), &code, CALLBACK, &verifier).await;
    let first = TokenResponse::read(res).await;
    let refresh = first.refresh();

    let replay = exchange(&app, ("web", &secret), &code, CALLBACK, &verifier).await;
    assert_eq!(replay.status(), 400);
    assert_eq!(
        replay.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    let res = app
        .post_token(
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
            Some(("web", &secret)),
        )
        .await;
    assert_eq!(
        res.status(),
        400,
        "the refresh token bought with the code is revoked"
    );
}

#[tokio::test]
async fn pkce_and_redirect_uri_are_checked_at_the_token_endpoint() {
    let (app, secret, _) = sso_setup().await;
    let browser = Browser::new();
    let (url, verifier) = authorize_url(&app, "web", CALLBACK, &[]);
    let callback = login_through(&browser, &url, "alice", PASSWORD).await;
    let code = query_param(&callback, "code").unwrap();

    let wrong_verifier = "x".repeat(43);
    let res = exchange(&app, ("web", &secret), &code, CALLBACK, &wrong_verifier).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
    let res = exchange(
        &app,
        ("web", &secret),
        &code,
        "http://127.0.0.1:9/other",
        &verifier,
    )
    .await;
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
    let res = app
        .post_token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
            ],
            Some(("web", &secret)),
        )
        .await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_grant",
        "the verifier is required"
    );
    // None of the failures spent the code.
    let res = exchange(&app, ("web", &secret), &code, CALLBACK, &verifier).await;
    assert_eq!(res.status(), 200);
}
