//! The login page: its headers, its CSRF token and pending request, and an
//! answer that is the same for a wrong password and an unknown user.

use crate::helpers::browser::{authorize_url, hidden, location, sso_setup, Browser, CALLBACK};
use crate::helpers::PASSWORD;

#[tokio::test]
async fn the_login_form_needs_its_csrf_token_and_says_nothing_about_who_exists() {
    let (app, _, _) = sso_setup().await;
    let browser = Browser::new();
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[("login_hint", "alice")]);
    let login_url = location(&browser.get(&url).await);
    let page = browser.get(&login_url).await;
    let headers = page.headers().clone();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("value=\"alice\""),
        "login_hint prefills the username"
    );
    assert!(
        html.contains("<strong>web</strong>"),
        "the client's name is shown"
    );
    assert!(!html.contains("<script"), "no script");
    let res = browser
        .post(
            &format!("{}/login", app.address),
            &[
                ("request", &hidden(&html, "request")),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), 400, "no CSRF token, no login");
    assert!(res.headers().get("set-cookie").is_none());
    // A CSRF token from another browser's page does not help either.
    let other = Browser::new();
    let (url2, _) = authorize_url(&app, "web", CALLBACK, &[]);
    let other_html = other
        .get(&location(&other.get(&url2).await))
        .await
        .text()
        .await
        .unwrap();
    let res = browser
        .submit_login(&app.address, &other_html, "alice", PASSWORD)
        .await;
    assert_eq!(
        res.status(),
        400,
        "the pending request is bound to the browser that started it"
    );

    let wrong = browser
        .submit_login(&app.address, &html, "alice", "nope nope nope")
        .await;
    assert_eq!(wrong.status(), 401);
    let wrong_body = wrong.text().await.unwrap();
    let unknown = browser
        .submit_login(&app.address, &html, "mallory", "nope nope nope")
        .await;
    let unknown_body = unknown.text().await.unwrap();
    assert!(wrong_body.contains("The username or password is incorrect."));
    assert_eq!(
        wrong_body.replace("value=\"alice\"", ""),
        unknown_body.replace("value=\"mallory\"", ""),
        "the same page for a wrong password and an unknown user"
    );
    // The pending request survives failed attempts.
    let res = browser
        .submit_login(&app.address, &html, "alice", PASSWORD)
        .await;
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "http issuer: no Secure flag");
    assert!(location(&res).contains("/authorize/continue"));
}
