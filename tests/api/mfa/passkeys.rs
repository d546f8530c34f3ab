//! Passkeys over HTTP, with a software authenticator: "Sign in with a
//! passkey" on the login page, a passkey as second factor, and what a
//! tampered, replayed or foreign answer gets.

use portcullis::accounts::passkeys;
use portcullis::accounts::webauthn::software::SoftwareAuthenticator;
use serde_json::Value;

use super::{id_token_claims, password_step, to_callback};
use crate::helpers::browser::{
    authorize_url, exchange, hidden, location, query_param, sso_setup, sso_setup_with, Browser,
    CALLBACK,
};
use crate::helpers::tokens::TokenResponse;
use crate::helpers::{AppOptions, TestApp, PASSWORD};

async fn localhost_app() -> (TestApp, String) {
    let (app, web, _) = sso_setup_with(AppOptions {
        localhost: true,
        ..Default::default()
    })
    .await;
    (app, web)
}

/// Registers a passkey for `username` through the ceremony the account
/// page runs; returns the authenticator that holds it.
async fn register(app: &TestApp, username: &str) -> SoftwareAuthenticator {
    let ctx = &app.ctx;
    let rp = ctx.passkeys.as_ref().expect("passkeys on localhost");
    let name = username.to_owned();
    let user = ctx
        .db
        .run(move |conn| portcullis::store::users::find_by_username(conn, &name))
        .await
        .unwrap()
        .unwrap();
    let (options, ceremony) = passkeys::begin_registration(&ctx.db, rp, &user, app.now())
        .await
        .unwrap();
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "required"
    );
    let mut authenticator = SoftwareAuthenticator::new();
    let response = authenticator.register(&options, &app.address).unwrap();
    passkeys::finish_registration(
        &ctx.db,
        rp,
        &user,
        &ceremony,
        &response,
        "Laptop",
        app.now(),
    )
    .await
    .expect("registered");
    authenticator
}

/// Asks the login page for passkey options, and has `authenticator` answer.
async fn assert_on_login_page(
    app: &TestApp,
    browser: &Browser,
    html: &str,
    authenticator: &mut SoftwareAuthenticator,
) -> (String, String) {
    let request = hidden(html, "request");
    let csrf = hidden(html, "csrf_token");
    let res = browser
        .post(
            &format!("{}/login/passkey/options", app.address),
            &[("request", &request), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["publicKey"]["userVerification"], "required");
    let credential = authenticator
        .assert(&body["publicKey"], &app.address)
        .unwrap();
    (body["ceremony"].as_str().unwrap().to_owned(), credential)
}

/// Posts the login page's passkey form: the ceremony and the answer.
async fn post_sign_in(
    app: &TestApp,
    browser: &Browser,
    html: &str,
    ceremony: &str,
    credential: &str,
) -> reqwest::Response {
    browser
        .post(
            &format!("{}/login/passkey", app.address),
            &[
                ("request", &hidden(html, "request")),
                ("csrf_token", &hidden(html, "csrf_token")),
                ("ceremony", ceremony),
                ("credential", credential),
            ],
        )
        .await
}

/// The options of a passkey as the second factor of the login `browser` waits in.
async fn second_factor_options(app: &TestApp, browser: &Browser, csrf: &str) -> Value {
    browser
        .post(
            &format!("{}/login/second-factor/passkey-options", app.address),
            &[("csrf_token", csrf)],
        )
        .await
        .json()
        .await
        .unwrap()
}

/// Posts a passkey's answer as the second factor.
async fn post_second_factor(
    browser: &Browser,
    app: &TestApp,
    csrf: &str,
    credential: &str,
) -> reqwest::Response {
    browser
        .post(
            &format!("{}/login/second-factor", app.address),
            &[
                ("csrf_token", csrf),
                ("method", "passkey"),
                ("credential", credential),
            ],
        )
        .await
}

async fn login_page(app: &TestApp, browser: &Browser, url: &str) -> String {
    let login_url = location(&browser.get(url).await);
    let page = browser.get(&login_url).await;
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline'; script"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("Sign in with a passkey"));
    assert!(html.contains("<script src=\"/assets/webauthn.js\"></script>"));
    let _ = app;
    html
}

#[tokio::test]
async fn sign_in_with_a_passkey_needs_no_password_and_the_id_token_says_phr() {
    let (app, web) = localhost_app().await;
    let mut authenticator = register(&app, "alice").await;
    let browser = Browser::new();
    let (url, verifier) = authorize_url(&app, "web", CALLBACK, &[]);
    let html = login_page(&app, &browser, &url).await;
    let (ceremony, credential) =
        assert_on_login_page(&app, &browser, &html, &mut authenticator).await;
    let res = post_sign_in(&app, &browser, &html, &ceremony, &credential).await;
    let callback = to_callback(&browser, res).await;
    let code = query_param(&callback, "code").unwrap();
    let tokens =
        TokenResponse::read(exchange(&app, ("web", &web), &code, CALLBACK, &verifier).await).await;
    let claims = id_token_claims(&app, tokens.id(), "web").await;
    assert_eq!(claims["acr"], "phr");
    let amr: Vec<&str> = claims["amr"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(amr.contains(&"user") && amr.contains(&"mfa"), "{amr:?}");
    assert!(amr.contains(&"hwk") || amr.contains(&"swk"), "{amr:?}");
    assert!(!amr.contains(&"pwd"));

    // The same answer again: the ceremony is spent.
    let replay = post_sign_in(&app, &browser, &html, &ceremony, &credential).await;
    assert!(
        replay.status() == 401 || replay.status() == 400,
        "{}",
        replay.status()
    );
    let audit = app
        .ctx
        .db
        .run(|conn| portcullis::store::audit::list_since(conn, 0, 1000))
        .await
        .unwrap();
    assert!(audit.iter().any(|e| e.action == "login.passkey"));
}

#[tokio::test]
async fn a_tampered_or_unknown_passkey_gets_the_login_page_and_no_session() {
    let (app, _) = localhost_app().await;
    let mut authenticator = register(&app, "alice").await;
    let browser = Browser::new();
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[]);
    let html = login_page(&app, &browser, &url).await;
    let (ceremony, credential) =
        assert_on_login_page(&app, &browser, &html, &mut authenticator).await;
    let mut tampered: Value = serde_json::from_str(&credential).unwrap();
    let sig = tampered["response"]["signature"]
        .as_str()
        .unwrap()
        .to_owned();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    tampered["response"]["signature"] = Value::String(format!("{flipped}{}", &sig[1..]));
    let post = |ceremony: String, credential: String| {
        let (browser, html, app) = (&browser, &html, &app);
        async move { post_sign_in(app, browser, html, &ceremony, &credential).await }
    };
    let res = post(ceremony, tampered.to_string()).await;
    assert_eq!(res.status(), 401);
    assert!(res.text().await.unwrap().contains("could not be verified"));

    // A credential this server never registered.
    let mut stranger = SoftwareAuthenticator::new();
    let rp_options = serde_json::json!({
        "rp": {"id": "localhost", "name": "x"},
        "user": {"id": "AAAA", "name": "mallory", "displayName": "m"},
        "challenge": "AAAAAAAAAAAAAAAAAAAAAA",
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}]
    });
    stranger.register(&rp_options, &app.address).unwrap();
    let (ceremony, credential) = assert_on_login_page(&app, &browser, &html, &mut stranger).await;
    let res = post(ceremony, credential).await;
    assert_eq!(res.status(), 401);
    // Garbage.
    let res = post("nonsense".into(), "{".into()).await;
    assert_eq!(res.status(), 401);
    let resume = browser
        .get(&format!(
            "{}/authorize/continue?request={}",
            app.address,
            hidden(&html, "request")
        ))
        .await;
    assert!(
        location(&resume).contains("/login?request="),
        "still not signed in"
    );
}

#[tokio::test]
async fn a_passkey_as_the_second_factor_after_the_password() {
    let (app, web) = localhost_app().await;
    let mut authenticator = register(&app, "alice").await;
    let browser = Browser::new();
    let (url, verifier) = authorize_url(&app, "web", CALLBACK, &[]);
    let res = password_step(&browser, &url, "alice", PASSWORD).await;
    assert!(location(&res).ends_with("/login/second-factor"));
    let page = browser
        .get(&format!("{}/login/second-factor", app.address))
        .await;
    let html = page.text().await.unwrap();
    assert!(html.contains("Use a passkey"));
    let csrf = hidden(&html, "csrf_token");
    let options: Value = second_factor_options(&app, &browser, &csrf).await;
    assert_eq!(
        options["publicKey"]["allowCredentials"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "alice's passkey is named: {options}"
    );
    let credential = authenticator
        .assert(&options["publicKey"], &app.address)
        .unwrap();
    let res = post_second_factor(&browser, &app, &csrf, &credential).await;
    let callback = to_callback(&browser, res).await;
    let code = query_param(&callback, "code").unwrap();
    let tokens =
        TokenResponse::read(exchange(&app, ("web", &web), &code, CALLBACK, &verifier).await).await;
    let claims = id_token_claims(&app, tokens.id(), "web").await;
    assert_eq!(claims["acr"], "phr");
    assert_eq!(claims["amr"][0], "pwd");
}

#[tokio::test]
async fn another_persons_passkey_is_not_a_second_factor() {
    let (app, _) = localhost_app().await;
    app.create_user("bob", PASSWORD).await;
    register(&app, "alice").await;
    let mut bobs = register(&app, "bob").await;
    let browser = Browser::new();
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[]);
    password_step(&browser, &url, "alice", PASSWORD).await;
    let html = browser
        .get(&format!("{}/login/second-factor", app.address))
        .await
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf_token");
    let mut options: Value = second_factor_options(&app, &browser, &csrf).await;
    // Bob's authenticator answers alice's challenge with bob's credential.
    options["publicKey"]["allowCredentials"] = serde_json::json!([]);
    let credential = bobs.assert(&options["publicKey"], &app.address).unwrap();
    let res = post_second_factor(&browser, &app, &csrf, &credential).await;
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn an_ip_address_issuer_offers_no_passkeys() {
    let (app, _, _) = sso_setup().await;
    let browser = Browser::new();
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[]);
    let login_url = location(&browser.get(&url).await);
    let page = browser.get(&login_url).await;
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!csp.contains("script-src"), "no script at all: {csp}");
    let html = page.text().await.unwrap();
    assert!(!html.contains("passkey"));
    let res = browser
        .post(
            &format!("{}/login/passkey/options", app.address),
            &[
                ("request", &hidden(&html, "request")),
                ("csrf_token", &hidden(&html, "csrf_token")),
            ],
        )
        .await;
    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "passkeys_unavailable");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("IP address"));
}

#[tokio::test]
async fn the_script_is_served_from_this_origin() {
    let (app, _, _) = sso_setup().await;
    let res = app
        .http
        .get(format!("{}/assets/webauthn.js", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(res.text().await.unwrap().contains("navigator.credentials"));
}

#[tokio::test]
async fn a_passkey_ceremony_past_its_five_minutes_is_refused() {
    let (app, _, _) = sso_setup_with(AppOptions {
        localhost: true,
        manual_clock: true,
        ..Default::default()
    })
    .await;
    let mut authenticator = register(&app, "alice").await;
    let browser = Browser::new();
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[]);
    let html = login_page(&app, &browser, &url).await;
    let (ceremony, credential) =
        assert_on_login_page(&app, &browser, &html, &mut authenticator).await;
    app.advance(301);
    let res = post_sign_in(&app, &browser, &html, &ceremony, &credential).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    let id = app.user_id("alice").await;
    let passkeys = app
        .ctx
        .db
        .run(move |conn| portcullis::store::second_factors::passkeys_of(conn, &id))
        .await
        .unwrap();
    assert_eq!(passkeys[0].last_used_at, None, "nothing was signed in");
}

#[tokio::test]
async fn acr_values_phr_asks_for_a_passkey_and_a_code_does_not_do() {
    let (app, web) = localhost_app().await;
    let (totp_secret, _) = app.enrol_totp(&app.user_id("alice").await).await;
    let browser = Browser::new();
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[("acr_values", "phr")]);
    password_step(&browser, &url, "alice", PASSWORD).await;
    let page = browser
        .get(&format!("{}/login/second-factor", app.address))
        .await;
    assert_eq!(page.status(), 403, "alice has no passkey yet");
    assert!(page.text().await.unwrap().contains("A passkey is needed"));

    // With a passkey, the same request is met, and only the passkey is offered.
    let mut authenticator = register(&app, "alice").await;
    let browser = Browser::new();
    let (url, verifier) = authorize_url(&app, "web", CALLBACK, &[("acr_values", "phr")]);
    password_step(&browser, &url, "alice", PASSWORD).await;
    let html = browser
        .get(&format!("{}/login/second-factor", app.address))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Use a passkey") && !html.contains("authenticator app"));
    let csrf = hidden(&html, "csrf_token");
    let code = crate::helpers::totp::code(&totp_secret, app.now());
    let refused = browser
        .post(
            &format!("{}/login/second-factor", app.address),
            &[("csrf_token", &csrf), ("method", "totp"), ("code", &code)],
        )
        .await;
    assert_eq!(refused.status(), 401, "a code is not phishing-resistant");
    let options: Value = second_factor_options(&app, &browser, &csrf).await;
    let credential = authenticator
        .assert(&options["publicKey"], &app.address)
        .unwrap();
    let res = post_second_factor(&browser, &app, &csrf, &credential).await;
    let callback = to_callback(&browser, res).await;
    let code = query_param(&callback, "code").unwrap();
    let tokens =
        TokenResponse::read(exchange(&app, ("web", &web), &code, CALLBACK, &verifier).await).await;
    assert_eq!(
        id_token_claims(&app, tokens.id(), "web").await["acr"],
        "phr"
    );
}
