//! A person with an authenticator app gives a code after the password.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    RedirectUrl, TokenResponse as _,
};
use serde_json::Value;

use super::{give_code, id_token_claims, password_step, to_callback};
use crate::helpers::browser::{
    authorize_url, exchange, location, query_param, sso_setup, sso_setup_with, Browser, CALLBACK,
};
use crate::helpers::tokens::TokenResponse;
use crate::helpers::totp::code;
use crate::helpers::{AppOptions, PASSWORD};

#[tokio::test]
async fn a_code_after_the_password_gives_an_id_token_with_amr_and_acr_verified_by_openidconnect() {
    let (app, secret, _) = sso_setup().await;
    let (totp_secret, _) = app.enrol_totp(&app.user_id("alice").await).await;
    let provider = CoreProviderMetadata::discover_async(
        IssuerUrl::new(app.address.clone()).unwrap(),
        &app.http,
    )
    .await
    .unwrap();
    let client = CoreClient::from_provider_metadata(
        provider,
        ClientId::new("web".into()),
        Some(ClientSecret::new(secret)),
    )
    .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge)
        .url();

    let browser = Browser::new();
    let res = password_step(&browser, url.as_str(), "alice", PASSWORD).await;
    assert!(
        location(&res).ends_with("/login/second-factor"),
        "the password alone does not sign a person with a factor in"
    );
    assert!(
        browser
            .get(&format!("{}/authorize/continue", app.address))
            .await
            .status()
            .is_client_error(),
        "no session yet"
    );
    let wrong = give_code(&app, &browser, "totp", "000000").await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.text().await.unwrap().contains("not right"));
    let right = give_code(&app, &browser, "totp", &code(&totp_secret, app.now())).await;
    let callback = to_callback(&browser, right).await;
    let code = query_param(&callback, "code").expect("a code");

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&app.http)
        .await
        .unwrap();
    let id_token = tokens.id_token().unwrap();
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("the ID token verifies");
    let amr: Vec<&str> = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|m| m.as_str())
        .collect();
    assert_eq!(amr, ["pwd", "otp", "mfa"]);
    assert_eq!(claims.auth_context_ref().map(|a| a.as_str()), Some("mfa"));
}

#[tokio::test]
async fn a_used_code_is_refused_the_second_time_and_nothing_is_signed_in() {
    let (app, _, _) = sso_setup().await;
    let (totp_secret, _) = app.enrol_totp(&app.user_id("alice").await).await;
    let now_code = code(&totp_secret, app.now());
    let first = Browser::new();
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[]);
    password_step(&first, &url, "alice", PASSWORD).await;
    let ok = give_code(&app, &first, "totp", &now_code).await;
    assert_eq!(ok.status(), 303);

    let second = Browser::new();
    password_step(&second, &url, "alice", PASSWORD).await;
    let replay = give_code(&app, &second, "totp", &now_code).await;
    assert_eq!(replay.status(), 401, "the same step twice");
}

#[tokio::test]
async fn a_recovery_code_works_once_and_says_how_many_remain() {
    let (app, secret, _) = sso_setup().await;
    let (_, codes) = app.enrol_totp(&app.user_id("alice").await).await;
    assert_eq!(codes.len(), 10);
    let (url, verifier) = authorize_url(&app, "web", CALLBACK, &[]);
    let browser = Browser::new();
    password_step(&browser, &url, "alice", PASSWORD).await;
    let used = give_code(&app, &browser, "recovery", &codes[3].to_uppercase()).await;
    assert_eq!(used.status(), 200);
    let html = used.text().await.unwrap();
    assert!(html.contains("9 left"), "{html}");
    let resume = html
        .split("href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .replace("&amp;", "&");
    let callback = location(&browser.get(&resume).await);
    let code = query_param(&callback, "code").unwrap();
    let tokens =
        TokenResponse::read(exchange(&app, ("web", &secret), &code, CALLBACK, &verifier).await)
            .await;
    let claims = id_token_claims(&app, tokens.id(), "web").await;
    assert_eq!(claims["acr"], "mfa");

    let again = Browser::new();
    password_step(&again, &url, "alice", PASSWORD).await;
    assert_eq!(
        give_code(&app, &again, "recovery", &codes[3])
            .await
            .status(),
        401
    );
    let audit = app
        .ctx
        .db
        .run(|conn| portcullis::store::audit::list_since(conn, 0, 1000))
        .await
        .unwrap();
    assert!(audit.iter().any(|e| e.action == "mfa.recovery_code_used"));
    assert!(audit.iter().any(|e| e.action == "mfa.failure"));
}

#[tokio::test]
async fn wrong_codes_count_in_the_password_throttle() {
    let (app, _, _) = sso_setup_with(AppOptions {
        extra: vec![
            ("login_max_failures", "3".into()),
            ("login_slow_after", "0".into()),
        ],
        ..Default::default()
    })
    .await;
    let (totp_secret, _) = app.enrol_totp(&app.user_id("alice").await).await;
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[]);
    let browser = Browser::new();
    password_step(&browser, &url, "alice", PASSWORD).await;
    for _ in 0..3 {
        assert_eq!(
            give_code(&app, &browser, "totp", "123456").await.status(),
            401
        );
    }
    let refused = give_code(&app, &browser, "totp", &code(&totp_secret, app.now())).await;
    assert_eq!(refused.status(), 429, "even the right code, once throttled");
    assert!(refused.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn the_password_grant_is_refused_to_a_person_with_a_second_factor() {
    let (app, _, _) = sso_setup().await;
    let secret = app
        .create_client(crate::helpers::ClientSpec::named("cli-app"))
        .await
        .unwrap();
    assert_eq!(
        app.password_grant(("cli-app", &secret), ("alice", PASSWORD), "openid")
            .await
            .status(),
        200
    );
    app.enrol_totp(&app.user_id("alice").await).await;
    let res = app
        .password_grant(("cli-app", &secret), ("alice", PASSWORD), "openid")
        .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("second factor"));
    // A wrong password says nothing of the factor.
    let wrong = app
        .password_grant(
            ("cli-app", &secret),
            ("alice", "not the password"),
            "openid",
        )
        .await;
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["error_description"], "invalid username or password");
}

#[tokio::test]
async fn a_challenge_is_not_finished_after_it_expires_or_in_another_browser() {
    let (app, _, _) = sso_setup_with(AppOptions {
        manual_clock: true,
        ..Default::default()
    })
    .await;
    app.enrol_totp(&app.user_id("alice").await).await;
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[]);
    let browser = Browser::new();
    password_step(&browser, &url, "alice", PASSWORD).await;
    // Another browser has no challenge cookie.
    let stranger = Browser::new();
    let page = stranger
        .get(&format!("{}/login/second-factor", app.address))
        .await;
    assert_eq!(page.status(), 400);
    app.advance(301);
    let page = browser
        .get(&format!("{}/login/second-factor", app.address))
        .await;
    assert_eq!(page.status(), 400);
    assert!(page.text().await.unwrap().contains("expired"));
}
