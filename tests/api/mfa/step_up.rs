//! Step-up: a request asks a higher level than the browser's session has.

use super::{give_code, id_token_claims, to_callback};
use crate::helpers::browser::{
    authorize_url, exchange, hidden, location, login_through, query_param, sso_setup, Browser,
    CALLBACK, SECOND_CALLBACK,
};
use crate::helpers::tokens::TokenResponse;
use crate::helpers::totp::{code, secret_on_page};
use crate::helpers::{TestApp, PASSWORD};

async fn id_claims(
    app: &TestApp,
    client: (&str, &str),
    redirect: &str,
    callback: &str,
    verifier: &str,
) -> serde_json::Value {
    let code = query_param(callback, "code").expect("a code");
    let res = exchange(app, client, &code, redirect, verifier).await;
    let tokens = TokenResponse::read(res).await;
    id_token_claims(app, tokens.id(), client.0).await
}

#[tokio::test]
async fn acr_values_mfa_asks_a_password_session_for_its_second_factor() {
    let (app, web, other) = sso_setup().await;
    let browser = Browser::new();
    // A password-only session, made before alice had a factor.
    let (url, verifier) = authorize_url(&app, "web", CALLBACK, &[]);
    let callback = login_through(&browser, &url, "alice", PASSWORD).await;
    let claims = id_claims(&app, ("web", &web), CALLBACK, &callback, &verifier).await;
    assert_eq!(claims["acr"], "pwd");
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    let (secret, _) = app.enrol_totp(&app.user_id("alice").await).await;

    // Enrolling did not raise the session: a plain request still gets pwd.
    let (url, verifier) = authorize_url(&app, "other", SECOND_CALLBACK, &[]);
    let callback = location(&browser.get(&url).await);
    let claims = id_claims(
        &app,
        ("other", &other),
        SECOND_CALLBACK,
        &callback,
        &verifier,
    )
    .await;
    assert_eq!(claims["acr"], "pwd");

    // acr_values=mfa: the second factor, without the password again.
    let (url, verifier) =
        authorize_url(&app, "other", SECOND_CALLBACK, &[("acr_values", "mfa phr")]);
    let step_up = location(&browser.get(&url).await);
    assert!(
        step_up.contains("/login/second-factor?request="),
        "{step_up}"
    );
    let to_page = location(&browser.get(&step_up).await);
    assert!(to_page.ends_with("/login/second-factor"));
    let res = give_code(&app, &browser, "totp", &code(&secret, app.now())).await;
    let callback = to_callback(&browser, res).await;
    let claims = id_claims(
        &app,
        ("other", &other),
        SECOND_CALLBACK,
        &callback,
        &verifier,
    )
    .await;
    assert_eq!(claims["acr"], "mfa");
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    assert!(claims["auth_time"].as_i64().unwrap() >= app.now() - 5);

    // The session is raised: the next such request needs nothing more.
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[("acr_values", "mfa")]);
    let callback = location(&browser.get(&url).await);
    assert!(callback.starts_with(CALLBACK), "{callback}");
}

#[tokio::test]
async fn an_essential_acr_claim_with_prompt_none_is_login_required() {
    let (app, _, _) = sso_setup().await;
    let browser = Browser::new();
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[]);
    login_through(&browser, &url, "alice", PASSWORD).await;
    let claims = r#"{"id_token":{"acr":{"essential":true,"values":["mfa"]}}}"#;
    let (url, _) = authorize_url(
        &app,
        "web",
        CALLBACK,
        &[("claims", claims), ("prompt", "none")],
    );
    let callback = location(&browser.get(&url).await);
    assert_eq!(
        query_param(&callback, "error").as_deref(),
        Some("login_required")
    );
    // A voluntary acr (not essential) asks nothing.
    let claims = r#"{"id_token":{"acr":{"values":["mfa"]}}}"#;
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[("claims", claims)]);
    let callback = location(&browser.get(&url).await);
    assert!(query_param(&callback, "code").is_some(), "{callback}");
}

#[tokio::test]
async fn a_person_without_a_factor_sets_one_up_when_a_request_asks_mfa() {
    let (app, web, _) = sso_setup().await;
    let browser = Browser::new();
    let (url, verifier) = authorize_url(&app, "web", CALLBACK, &[("acr_values", "mfa")]);
    let res = super::password_step(&browser, &url, "alice", PASSWORD).await;
    assert!(location(&res).ends_with("/login/second-factor"));
    let page = browser
        .get(&format!("{}/login/second-factor", app.address))
        .await;
    let html = page.text().await.unwrap();
    assert!(html.contains("<svg"), "an inline QR code");
    assert!(html.contains("otpauth://totp/"));
    assert!(!html.contains("<script"), "no script on the enrolment page");
    let secret = secret_on_page(&html);
    let csrf = hidden(&html, "csrf_token");
    let enrol = format!("{}/login/enrol", app.address);
    let wrong = browser
        .post(&enrol, &[("csrf_token", &csrf), ("code", "000000")])
        .await;
    assert_eq!(wrong.status(), 401);
    let ok = browser
        .post(
            &enrol,
            &[("csrf_token", &csrf), ("code", &code(&secret, app.now()))],
        )
        .await;
    assert_eq!(ok.status(), 200);
    let html = ok.text().await.unwrap();
    assert_eq!(
        html.matches("<li><code>").count(),
        10,
        "ten recovery codes, once"
    );
    let resume = html
        .split("id=\"continue\"")
        .next()
        .and_then(|s| s.rsplit("href=\"").next())
        .and_then(|s| s.split('"').next())
        .unwrap()
        .replace("&amp;", "&");
    let callback = location(&browser.get(&resume).await);
    let claims = id_claims(&app, ("web", &web), CALLBACK, &callback, &verifier).await;
    assert_eq!(claims["acr"], "mfa");
}

#[tokio::test]
async fn a_step_up_that_sets_up_a_factor_raises_the_session_and_other_apps_keep_their_tokens() {
    let (app, web, other) = sso_setup().await;
    let browser = Browser::new();
    let (url, verifier) = authorize_url(&app, "web", CALLBACK, &[]);
    let callback = login_through(&browser, &url, "alice", PASSWORD).await;
    let first = query_param(&callback, "code").unwrap();
    let web_tokens =
        TokenResponse::read(exchange(&app, ("web", &web), &first, CALLBACK, &verifier).await).await;

    let (url, verifier) = authorize_url(&app, "other", SECOND_CALLBACK, &[("acr_values", "mfa")]);
    let step_up = location(&browser.get(&url).await);
    location(&browser.get(&step_up).await);
    let html = browser
        .get(&format!("{}/login/second-factor", app.address))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Set up an authenticator app"), "{html}");
    let secret = secret_on_page(&html);
    let ok = browser
        .post(
            &format!("{}/login/enrol", app.address),
            &[
                ("csrf_token", &hidden(&html, "csrf_token")),
                ("code", &code(&secret, app.now())),
            ],
        )
        .await;
    assert_eq!(ok.status(), 200);
    let resume = ok
        .text()
        .await
        .unwrap()
        .split("id=\"continue\"")
        .next()
        .and_then(|s| {
            s.rsplit("href=\"")
                .next()
                .map(|s| s.split('"').next().unwrap_or("").to_owned())
        })
        .unwrap()
        .replace("&amp;", "&");
    let callback = location(&browser.get(&resume).await);
    let claims = id_claims(
        &app,
        ("other", &other),
        SECOND_CALLBACK,
        &callback,
        &verifier,
    )
    .await;
    assert_eq!(claims["acr"], "mfa");
    let refreshed = app
        .post_token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", web_tokens.refresh()),
            ],
            Some(("web", &web)),
        )
        .await;
    assert_eq!(
        refreshed.status(),
        200,
        "the session was raised, not replaced"
    );
}
