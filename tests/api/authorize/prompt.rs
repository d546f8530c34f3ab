//! The login session across authorization requests: one login serves
//! every client, and `prompt` and `max_age` decide when to ask again.

use crate::helpers::browser::{
    authorize_url, exchange, location, login_through, query_param, sso_setup, sso_setup_with,
    Browser, CALLBACK, SECOND_CALLBACK,
};
use crate::helpers::{AppOptions, PASSWORD};

#[tokio::test]
async fn one_login_serves_a_second_client_without_a_prompt() {
    let (app, _, other) = sso_setup_with(AppOptions {
        manual_clock: true,
        ..Default::default()
    })
    .await;
    let browser = Browser::new();
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[]);
    login_through(&browser, &url, "alice", PASSWORD).await;

    let (url, verifier) = authorize_url(&app, "other", SECOND_CALLBACK, &[]);
    let callback = location(&browser.get(&url).await);
    assert!(
        callback.starts_with(SECOND_CALLBACK),
        "no login page the second time: {callback}"
    );
    let code = query_param(&callback, "code").unwrap();
    let res = exchange(&app, ("other", &other), &code, SECOND_CALLBACK, &verifier).await;
    assert_eq!(res.status(), 200);

    // prompt=login forces a new login despite the session.
    let (url, _) = authorize_url(&app, "other", SECOND_CALLBACK, &[("prompt", "login")]);
    assert!(location(&browser.get(&url).await).contains("/login?request="));
    // max_age=0 after a second has passed forces one as well.
    app.advance(1);
    let (url, _) = authorize_url(&app, "other", SECOND_CALLBACK, &[("max_age", "0")]);
    assert!(location(&browser.get(&url).await).contains("/login?request="));
    // And prompt=login is satisfied by the login it asked for.
    let (url, _) = authorize_url(&app, "other", SECOND_CALLBACK, &[("prompt", "login")]);
    let callback = login_through(&browser, &url, "alice", PASSWORD).await;
    assert!(query_param(&callback, "code").is_some(), "{callback}");
}

#[tokio::test]
async fn prompt_none_without_a_session_is_login_required() {
    let (app, _, _) = sso_setup().await;
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[("prompt", "none")]);
    let callback = location(&Browser::new().get(&url).await);
    assert!(callback.starts_with(CALLBACK));
    assert_eq!(
        query_param(&callback, "error").as_deref(),
        Some("login_required")
    );
    assert_eq!(query_param(&callback, "state").as_deref(), Some("st4te"));
    assert_eq!(
        query_param(&callback, "iss").as_deref(),
        Some(app.address.as_str())
    );
}
