//! RP-initiated logout: it ends the login session and revokes the refresh
//! tokens it bought; without an ID token hint it asks the user first.

use crate::helpers::browser::{
    authorize_url, exchange, hidden, location, login_through, query_param, sso_setup, Browser,
    CALLBACK, LOGGED_OUT,
};
use crate::helpers::tokens::TokenResponse;
use crate::helpers::PASSWORD;

#[tokio::test]
async fn logout_ends_the_session_and_revokes_its_refresh_tokens() {
    let (app, secret, _) = sso_setup().await;
    let browser = Browser::new();
    let (url, verifier) = authorize_url(&app, "web", CALLBACK, &[]);
    let callback = login_through(&browser, &url, "alice", PASSWORD).await;
    let code = query_param(&callback, "code").unwrap();
    let res = exchange(&app, ("web", &secret), &code, CALLBACK, &verifier).await;
    let tokens = TokenResponse::read(res).await;
    let id_token = tokens.id();

    // An unregistered post-logout URI is refused with a page.
    let res = browser
        .get(&format!(
            "{}/logout?id_token_hint={id_token}&post_logout_redirect_uri=https://evil.example.com/",
            app.address
        ))
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());

    let res = browser
        .get(&format!(
            "{}/logout?id_token_hint={id_token}&post_logout_redirect_uri={LOGGED_OUT}&state=bye",
            app.address
        ))
        .await;
    let to = location(&res);
    assert_eq!(to, format!("{LOGGED_OUT}?state=bye"));

    // The session is gone: prompt=none now fails, and the refresh token is revoked.
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[("prompt", "none")]);
    assert_eq!(
        query_param(&location(&browser.get(&url).await), "error").as_deref(),
        Some("login_required")
    );
    let res = app
        .post_token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens.refresh()),
            ],
            Some(("web", &secret)),
        )
        .await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn logout_without_a_hint_asks_the_user_first() {
    let (app, _, _) = sso_setup().await;
    let browser = Browser::new();
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[]);
    login_through(&browser, &url, "alice", PASSWORD).await;
    let page = browser.get(&format!("{}/logout", app.address)).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Sign out?"));
    // A forged POST without the token does not log the user out.
    let forged = browser
        .post(
            &format!("{}/logout", app.address),
            &[("csrf_token", "forged")],
        )
        .await;
    assert_eq!(forged.status(), 200);
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[("prompt", "none")]);
    assert!(
        query_param(&location(&browser.get(&url).await), "code").is_some(),
        "still logged in"
    );
    let done = browser
        .post(
            &format!("{}/logout", app.address),
            &[("csrf_token", &hidden(&html, "csrf_token"))],
        )
        .await;
    assert!(done.text().await.unwrap().contains("You are signed out"));
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[("prompt", "none")]);
    assert_eq!(
        query_param(&location(&browser.get(&url).await), "error").as_deref(),
        Some("login_required")
    );
}
