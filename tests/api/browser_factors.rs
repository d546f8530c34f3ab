//! Second factors in a real headless Chromium over WebDriver: a code from
//! an authenticator app after the password, and passkeys with the WebDriver
//! virtual authenticator (CTAP2, resident keys, user verification). The
//! screenshots in `docs/screenshots/` are taken here.

use std::path::PathBuf;

use openidconnect::PkceCodeChallenge;
use portcullis::oauth::clients::GrantType;

use crate::helpers::tokens::TokenResponse;
use crate::helpers::totp::code;
use crate::helpers::webdriver::{serve_callback, Driver};
use crate::helpers::{spawn_app_with, AppOptions, ClientSpec, TestApp, PASSWORD};

/// Where the screenshots the README and the book show are written.
fn screenshot_path(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

async fn save_screenshot(driver: &Driver, name: &str) {
    let shot = driver.screenshot().await;
    assert_eq!(&shot[..8], b"\x89PNG\r\n\x1a\n");
    std::fs::write(screenshot_path(name), &shot).unwrap();
}

/// A server on `http://localhost:PORT` (passkeys need a host name) with
/// alice and a client `Intranet` whose callback is a page of its own.
async fn setup() -> (TestApp, String, String) {
    let app = spawn_app_with(AppOptions {
        localhost: true,
        ..Default::default()
    })
    .await;
    app.create_user("alice", PASSWORD).await;
    let port = serve_callback().await;
    let callback = format!("http://127.0.0.1:{port}/callback");
    let secret = app
        .create_client(ClientSpec {
            id: "Intranet",
            grants: &[GrantType::AuthorizationCode, GrantType::RefreshToken],
            redirect_uris: &[&callback],
            ..Default::default()
        })
        .await
        .unwrap();
    (app, callback, secret)
}

/// An authorization request of `Intranet`; returns it and the PKCE verifier.
fn login_link(app: &TestApp, callback: &str) -> (String, String) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut url = reqwest::Url::parse(&format!("{}/authorize", app.address)).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "Intranet")
        .append_pair("redirect_uri", callback)
        .append_pair("scope", "openid profile")
        .append_pair("state", "browser-state")
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256");
    (url.to_string(), verifier.secret().to_owned())
}

/// The ID token's claims for the code the browser landed with.
async fn id_token_of(
    app: &TestApp,
    landed: &str,
    callback: &str,
    secret: &str,
    verifier: &str,
) -> serde_json::Value {
    let url = reqwest::Url::parse(landed).unwrap();
    let code = url
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");
    let res = app
        .post_token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", callback),
                ("code_verifier", verifier),
            ],
            Some(("Intranet", secret)),
        )
        .await;
    let tokens = TokenResponse::read(res).await;
    crate::mfa::id_token_claims(app, tokens.id(), "Intranet").await
}

#[tokio::test]
async fn a_code_from_an_authenticator_app_after_the_password_in_chromium() {
    let (app, callback, secret) = setup().await;
    let (totp_secret, _) = app.enrol_totp(&app.user_id("alice").await).await;
    let (link, verifier) = login_link(&app, &callback);
    let driver = Driver::start().await;
    driver.goto(&link).await;
    driver.type_into("#username", "alice").await;
    driver.type_into("#password", PASSWORD).await;
    driver.click("button[type=submit]").await;
    let page = driver.wait_for_source("Confirm it is you").await;
    assert!(page.contains("Code from your authenticator app"));
    save_screenshot(&driver, "second-factor.png").await;

    driver.type_into("#code", "000000").await;
    driver
        .click("form[action='/login/second-factor'] button[type=submit]")
        .await;
    driver.wait_for_source("That code is not right").await;
    driver
        .type_into("#code", &code(&totp_secret, app.now()))
        .await;
    driver
        .click("form[action='/login/second-factor'] button[type=submit]")
        .await;
    let landed = driver.wait_for_url(&callback).await;
    let claims = id_token_of(&app, &landed, &callback, &secret, &verifier).await;
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    assert_eq!(claims["acr"], "mfa");
    driver.session_call("DELETE", "", None).await;
}

/// A person adds a passkey on the account page (the WebDriver virtual
/// authenticator plays the platform authenticator), signs out, and signs in
/// with "Sign in with a passkey" through a client's `/authorize`: no
/// username or password typed; then uses the same passkey as the second
/// factor after the password.
#[tokio::test]
async fn a_passkey_added_on_the_account_page_signs_in_without_a_password_in_chromium() {
    let (app, callback, secret) = setup().await;
    let driver = Driver::start_sized(820, 2100).await;
    let authenticator = driver.add_virtual_authenticator().await;

    driver.goto(&format!("{}/account", app.address)).await;
    driver.type_into("#username", "alice").await;
    driver.type_into("#password", PASSWORD).await;
    driver.click("button[type=submit]").await;
    driver.wait_for_source("Your account").await;
    driver.type_into("#passkey-name", "This laptop").await;
    driver.click("#add-passkey").await;
    driver.wait_for_source("Save your recovery codes").await;
    driver.click("#continue").await;
    let page = driver.wait_for_source("The passkey is added.").await;
    assert!(page.contains("This laptop"));
    let held = driver.authenticator_credentials(&authenticator).await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(
        held[0]["isResidentCredential"], true,
        "a discoverable credential"
    );
    save_screenshot(&driver, "account.png").await;

    driver.click("a[href='/logout']").await;
    driver.wait_for_source("Sign out?").await;
    driver.click("button[type=submit]").await;
    driver.wait_for_source("signed out").await;

    let (link, verifier) = login_link(&app, &callback);
    driver.goto(&link).await;
    driver.wait_for_source("Sign in with a passkey").await;
    driver.click("#passkey-sign-in").await;
    let landed = driver.wait_for_url(&callback).await;
    let claims = id_token_of(&app, &landed, &callback, &secret, &verifier).await;
    assert_eq!(claims["acr"], "phr");
    let amr: Vec<&str> = claims["amr"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        amr.contains(&"user") && amr.contains(&"mfa") && !amr.contains(&"pwd"),
        "{amr:?}"
    );
    assert!(amr.contains(&"hwk") || amr.contains(&"swk"), "{amr:?}");

    // The same passkey as the second factor after the password.
    driver.goto(&format!("{}/logout", app.address)).await;
    driver.click("button[type=submit]").await;
    driver.wait_for_source("signed out").await;
    let (link, verifier) = login_link(&app, &callback);
    driver.goto(&link).await;
    driver.type_into("#username", "alice").await;
    driver.type_into("#password", PASSWORD).await;
    driver
        .click("form[action='/login'] button[type=submit]")
        .await;
    driver.wait_for_source("Use a passkey").await;
    driver.click("#passkey-second-factor").await;
    let landed = driver.wait_for_url(&callback).await;
    let claims = id_token_of(&app, &landed, &callback, &secret, &verifier).await;
    assert_eq!(claims["acr"], "phr");
    assert_eq!(claims["amr"][0], "pwd");
    driver.session_call("DELETE", "", None).await;
}
