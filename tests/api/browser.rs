//! End to end in a real headless Chromium, driven over WebDriver
//! (chromedriver): the login page as a person meets it. Needs Debian's
//! `chromium` and `chromium-driver` (`.ci/run` installs them).

use std::time::Duration;

use openidconnect::PkceCodeChallenge;
use portcullis::oauth::clients::GrantType;
use serde_json::Value;

use crate::helpers::tokens::TokenResponse;
use crate::helpers::webdriver::{serve_callback, Driver};
use crate::helpers::{spawn_app, ClientSpec, PASSWORD};

#[tokio::test]
async fn a_person_logs_in_through_chromium() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD).await;
    let callback_port = serve_callback().await;
    let callback = format!("http://127.0.0.1:{callback_port}/callback");
    let secret = app
        .create_client(ClientSpec {
            id: "Intranet",
            grants: &[GrantType::AuthorizationCode, GrantType::RefreshToken],
            redirect_uris: &[&callback],
            ..Default::default()
        })
        .await
        .unwrap();
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut login_link = reqwest::Url::parse(&format!("{}/authorize", app.address)).unwrap();
    login_link
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "Intranet")
        .append_pair("redirect_uri", &callback)
        .append_pair("scope", "openid profile")
        .append_pair("state", "browser-state")
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256");

    let driver = Driver::start().await;
    driver.goto(login_link.as_str()).await;
    assert!(driver.current_url().await.contains("/login?request="));
    let source = driver.page_source().await;
    assert!(source.contains("Sign in") && source.contains("Intranet"));
    let shot = driver.screenshot().await;
    assert_eq!(&shot[..8], b"\x89PNG\r\n\x1a\n");
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("login-page.png");
    std::fs::write(&path, &shot).unwrap();

    // A wrong password first: the page says so, and stays.
    driver.type_into("#username", "alice").await;
    driver.type_into("#password", "not my password").await;
    driver.click("button[type=submit]").await;
    driver
        .wait_for_source("The username or password is incorrect.")
        .await;

    driver.type_into("#password", PASSWORD).await;
    driver.click("button[type=submit]").await;
    let mut landed = String::new();
    for _ in 0..50 {
        landed = driver.current_url().await;
        if landed.starts_with(&callback) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        landed.starts_with(&callback),
        "the browser ends at the callback: {landed}"
    );
    let url = reqwest::Url::parse(&landed).unwrap();
    let param = |n: &str| {
        url.query_pairs()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some("browser-state"));
    let code = param("code").expect("a code");

    let res = app
        .post_token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &callback),
                ("code_verifier", verifier.secret()),
            ],
            Some(("Intranet", &secret)),
        )
        .await;
    assert_eq!(res.status(), 200);
    let tokens = TokenResponse::read(res).await;
    let claims = app
        .verify_access_token(&tokens.access_token, &app.address)
        .await
        .unwrap();
    assert_eq!(claims["client_id"], "Intranet");
    driver.session_call("DELETE", "", None).await;
}

/// RFC 8628 end to end: a device asks for codes and polls, as a device
/// does, on its interval; a person opens `verification_uri_complete` in
/// Chromium, signs in, compares the code and approves; the device gets
/// its tokens.
#[tokio::test]
async fn a_device_is_connected_through_chromium() {
    let app = crate::helpers::spawn_app_with(crate::helpers::AppOptions {
        extra: vec![("device_poll_interval", "1".into())],
        ..Default::default()
    })
    .await;
    app.create_user("alice", PASSWORD).await;
    app.create_client(ClientSpec {
        id: "LivingRoomTV",
        public: true,
        grants: &[GrantType::DeviceCode, GrantType::RefreshToken],
        scope: "openid profile",
        ..Default::default()
    })
    .await;
    let res = app
        .post_form(
            "/device_authorization",
            &[("client_id", "LivingRoomTV"), ("scope", "openid profile")],
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    let auth: Value = res.json().await.unwrap();
    let device_code = auth["device_code"].as_str().unwrap().to_owned();
    let user_code = auth["user_code"].as_str().unwrap().to_owned();
    let interval = auth["interval"].as_u64().unwrap();

    // The device polls on its own, as it would while showing the code.
    let (http, token_url) = (app.http.clone(), format!("{}/token", app.address));
    let device = tokio::spawn(async move {
        let mut pending = 0;
        let mut wait = interval;
        for _ in 0..120 {
            tokio::time::sleep(Duration::from_secs(wait)).await;
            let res = http
                .post(&token_url)
                .form(&[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                    ("device_code", &device_code),
                    ("client_id", "LivingRoomTV"),
                ])
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap();
            match body["error"].as_str() {
                None if status == 200 => return (pending, body),
                Some("authorization_pending") => pending += 1,
                Some("slow_down") => wait += 5,
                other => panic!("the device was refused: {other:?} {body}"),
            }
        }
        panic!("the device never got its tokens");
    });

    let driver = Driver::start().await;
    driver
        .goto(auth["verification_uri_complete"].as_str().unwrap())
        .await;
    let source = driver.page_source().await;
    assert!(source.contains("Connect a device"), "{source}");
    driver.click("button[type=submit]").await;
    driver.wait_for_source("to connect a device to").await;
    driver.type_into("#username", "alice").await;
    driver.type_into("#password", PASSWORD).await;
    driver.click("button[type=submit]").await;
    let confirm = driver
        .wait_for_source("Check that your device shows this code")
        .await;
    assert!(confirm.contains(&user_code), "the code is shown");
    assert!(confirm.contains("LivingRoomTV"));
    let shot = driver.screenshot().await;
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("device-confirm.png");
    std::fs::write(&path, &shot).unwrap();
    driver.click("button[value=approve]").await;
    driver.wait_for_source("Device connected").await;

    let (pending, body) = tokio::time::timeout(Duration::from_secs(30), device)
        .await
        .expect("the device gets its tokens in time")
        .unwrap();
    assert!(pending >= 1, "it polled while the person was approving");
    let tokens: TokenResponse = serde_json::from_value(body).unwrap();
    let claims = app
        .verify_access_token(&tokens.access_token, &app.address)
        .await
        .unwrap();
    assert_eq!(claims["client_id"], "LivingRoomTV");
    assert!(tokens.id_token.is_some() && tokens.refresh_token.is_some());
    driver.session_call("DELETE", "", None).await;
}
