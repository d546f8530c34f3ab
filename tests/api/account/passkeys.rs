//! Adding a passkey on the account page (a software authenticator answers
//! as a browser would), then signing in with it.

use portcullis::accounts::webauthn::software::SoftwareAuthenticator;
use serde_json::Value;

use super::{post, sign_in};
use crate::helpers::browser::{
    authorize_url, hidden, location, sso_setup, sso_setup_with, Browser, CALLBACK,
};
use crate::helpers::{AppOptions, PASSWORD};

#[tokio::test]
async fn a_passkey_added_on_the_account_page_signs_its_person_in() {
    let (app, _, _) = sso_setup_with(AppOptions {
        localhost: true,
        ..Default::default()
    })
    .await;
    let browser = Browser::new();
    let page = sign_in(&app, &browser, "alice", PASSWORD).await;
    assert!(page.contains("Add a passkey"));
    let csrf = hidden(&page, "csrf_token");
    let options = format!("{}/account/passkeys/options", app.address);
    let forged = post(&browser, &options, &[("csrf_token", "forged")]).await;
    assert_eq!(forged.status(), 400);
    let res = post(&browser, &options, &[("csrf_token", &csrf)]).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let selection = &body["publicKey"]["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "required");
    assert_eq!(selection["userVerification"], "required");
    let mut authenticator = SoftwareAuthenticator::new();
    let credential = authenticator
        .register(&body["publicKey"], &app.address)
        .unwrap();
    let ceremony = body["ceremony"].as_str().unwrap();
    let add = format!("{}/account/passkeys", app.address);

    // Another ceremony's value, or a tampered answer, adds nothing.
    let mut tampered: Value = serde_json::from_str(&credential).unwrap();
    tampered["response"]["clientDataJSON"] = Value::String("e30".into());
    let bad = post(
        &browser,
        &add,
        &[
            ("csrf_token", &csrf),
            ("ceremony", ceremony),
            ("credential", &tampered.to_string()),
            ("name", "Laptop"),
        ],
    )
    .await;
    assert_eq!(bad.status(), 400);
    assert!(bad
        .text()
        .await
        .unwrap()
        .contains("The passkey was not added"));

    // The ceremony was taken by the failed attempt: a fresh one.
    let body: Value = post(&browser, &options, &[("csrf_token", &csrf)])
        .await
        .json()
        .await
        .unwrap();
    let mut authenticator = SoftwareAuthenticator::new();
    let credential = authenticator
        .register(&body["publicKey"], &app.address)
        .unwrap();
    let res = post(
        &browser,
        &add,
        &[
            ("csrf_token", &csrf),
            ("ceremony", body["ceremony"].as_str().unwrap()),
            ("credential", &credential),
            ("name", "Laptop"),
        ],
    )
    .await;
    assert_eq!(
        res.status(),
        200,
        "the first factor comes with recovery codes"
    );
    let html = res.text().await.unwrap();
    assert_eq!(html.matches("<li><code>").count(), 10);
    let (_, page) = super::get(&browser, &format!("{}/account", app.address)).await;
    assert!(page.contains("<strong>Laptop</strong>"), "{page}");

    // Signed out, the passkey alone signs alice in.
    let stranger = Browser::new();
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[]);
    let login_url = location(&stranger.get(&url).await);
    let html = stranger.get(&login_url).await.text().await.unwrap();
    let (request, csrf) = (hidden(&html, "request"), hidden(&html, "csrf_token"));
    let body: Value = stranger
        .post(
            &format!("{}/login/passkey/options", app.address),
            &[("request", &request), ("csrf_token", &csrf)],
        )
        .await
        .json()
        .await
        .unwrap();
    let assertion = authenticator
        .assert(&body["publicKey"], &app.address)
        .unwrap();
    let res = stranger
        .post(
            &format!("{}/login/passkey", app.address),
            &[
                ("request", &request),
                ("csrf_token", &csrf),
                ("ceremony", body["ceremony"].as_str().unwrap()),
                ("credential", &assertion),
            ],
        )
        .await;
    assert!(location(&res).contains("/authorize/continue"));
}

#[tokio::test]
async fn an_ip_address_issuer_says_passkeys_are_unavailable_on_the_account_page() {
    let (app, _, _) = sso_setup().await;
    let browser = Browser::new();
    let page = sign_in(&app, &browser, "alice", PASSWORD).await;
    assert!(page.contains("Passkeys cannot be added here"), "{page}");
    assert!(page.contains("IP address"));
    assert!(!page.contains("<script"));
    let csrf = hidden(&page, "csrf_token");
    let res = post(
        &browser,
        &format!("{}/account/passkeys/options", app.address),
        &[("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(res.status(), 404);
}
