//! Consent for third-party clients: asked once, remembered, asked again
//! on `prompt=consent`.

use portcullis::oauth::clients::GrantType;

use crate::helpers::browser::{
    authorize_url, exchange, hidden, location, login_through, query_param, Browser, CALLBACK,
};
use crate::helpers::{spawn_app, ClientSpec, PASSWORD};

#[tokio::test]
async fn a_third_party_client_asks_for_consent_once() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD).await;
    let secret = app
        .create_client(ClientSpec {
            id: "partner",
            grants: &[GrantType::AuthorizationCode],
            redirect_uris: &[CALLBACK],
            consent: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let browser = Browser::new();
    let (url, verifier) = authorize_url(&app, "partner", CALLBACK, &[]);
    let consent_url = login_through(&browser, &url, "alice", PASSWORD).await;
    assert!(consent_url.contains("/consent?request="), "{consent_url}");
    let html = browser.get(&consent_url).await.text().await.unwrap();
    assert!(
        html.contains("Your email address") && html.contains("<code>profile</code>"),
        "scopes are listed"
    );
    let form = [
        ("request", hidden(&html, "request")),
        ("csrf_token", hidden(&html, "csrf_token")),
    ];
    let deny = browser
        .post(
            &format!("{}/consent", app.address),
            &[
                ("request", &form[0].1),
                ("csrf_token", &form[1].1),
                ("decision", "deny"),
            ],
        )
        .await;
    assert_eq!(
        query_param(&location(&deny), "error").as_deref(),
        Some("access_denied")
    );

    let (url, verifier2) = authorize_url(&app, "partner", CALLBACK, &[]);
    let consent_url = location(&browser.get(&url).await);
    let html = browser.get(&consent_url).await.text().await.unwrap();
    let allow = browser
        .post(
            &format!("{}/consent", app.address),
            &[
                ("request", &hidden(&html, "request")),
                ("csrf_token", &hidden(&html, "csrf_token")),
                ("decision", "allow"),
            ],
        )
        .await;
    let code = query_param(&location(&allow), "code").unwrap();
    assert_eq!(
        exchange(&app, ("partner", &secret), &code, CALLBACK, &verifier2)
            .await
            .status(),
        200
    );
    let _ = verifier;

    // Remembered: the next authorization goes straight back with a code.
    let (url, _) = authorize_url(&app, "partner", CALLBACK, &[]);
    assert!(query_param(&location(&browser.get(&url).await), "code").is_some());
    // prompt=none still works, and prompt=consent asks again.
    let (url, _) = authorize_url(&app, "partner", CALLBACK, &[("prompt", "consent")]);
    assert!(location(&browser.get(&url).await).contains("/consent?request="));
}
