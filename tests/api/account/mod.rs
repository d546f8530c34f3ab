//! The account page, over HTTP as a browser uses it: its login form, the
//! profile and the password (which signs out the other sessions) here;
//! the second factors in [`factors`] (an authenticator app set up and
//! removed, its codes computed by a separate RFC 6238 implementation,
//! recovery codes, passkeys, the last factor kept under `mfa_required`);
//! sessions, applications, events and the audit trail in [`sessions`].
//! Every form's CSRF token is tried, and every answer must carry
//! `Cache-Control: no-store`.

mod factors;
mod passkeys;
mod sessions;

use crate::helpers::browser::{hidden, location, Browser};
use crate::helpers::{error_of, spawn_app, ClientSpec, TestApp, PASSWORD};

const NEW_PASSWORD: &str = "a much longer new password";

/// GETs an account address; every answer there must not be cached.
async fn get(browser: &Browser, url: &str) -> (u16, String) {
    let res = browser.get(url).await;
    assert_eq!(res.headers()["cache-control"], "no-store", "{url}");
    (res.status().as_u16(), res.text().await.unwrap())
}

/// POSTs an account form; the answer must not be cached either.
async fn post(browser: &Browser, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
    let res = browser.post(url, form).await;
    assert_eq!(res.headers()["cache-control"], "no-store", "{url}");
    res
}

/// Signs `browser` in on the account page; returns the page.
async fn sign_in(app: &TestApp, browser: &Browser, username: &str, password: &str) -> String {
    let account = format!("{}/account", app.address);
    let (status, form) = get(browser, &account).await;
    assert_eq!(status, 200);
    let res = post(
        browser,
        &format!("{account}/login"),
        &[
            ("csrf_token", &hidden(&form, "csrf_token")),
            ("username", username),
            ("password", password),
        ],
    )
    .await;
    assert_eq!(location(&res), account);
    let (status, page) = get(browser, &account).await;
    assert_eq!(status, 200);
    assert!(page.contains("<h1>Your account</h1>"), "{page}");
    page
}

/// Whether an account page is the login form (no session).
fn is_login_form(html: &str) -> bool {
    html.contains("action=\"/account/login\"") && !html.contains("<h1>Your account</h1>")
}

#[tokio::test]
async fn the_account_page_asks_to_sign_in_and_shows_the_person() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD).await;
    let browser = Browser::new();
    let account = format!("{}/account", app.address);
    let res = browser.get(&account).await;
    assert_eq!(res.status(), 200);
    let headers = res.headers().clone();
    assert_eq!(headers["cache-control"], "no-store");
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    let csrf_cookie = headers["set-cookie"].to_str().unwrap();
    assert!(
        csrf_cookie.starts_with("portcullis_account_csrf=")
            && csrf_cookie.contains("HttpOnly")
            && csrf_cookie.contains("SameSite=Lax"),
        "{csrf_cookie}"
    );
    let form = res.text().await.unwrap();
    assert!(is_login_form(&form), "{form}");
    let csrf = hidden(&form, "csrf_token");
    let login = format!("{account}/login");

    // A token from another browser (or none) signs nobody in.
    let res = Browser::new()
        .post(
            &login,
            &[
                ("csrf_token", &csrf),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("reload the account page"));

    let res = post(
        &browser,
        &login,
        &[
            ("csrf_token", &csrf),
            ("username", "alice"),
            ("password", "not the password"),
        ],
    )
    .await;
    assert_eq!(res.status(), 401);
    let body = res.text().await.unwrap();
    assert!(body.contains("The username or password is incorrect."));
    assert!(is_login_form(&body));

    let page = sign_in(&app, &browser, "alice", PASSWORD).await;
    assert!(
        page.contains("<strong id=\"username\">alice</strong>"),
        "{page}"
    );
    assert!(page.contains("value=\"user@example.com\""));
    assert!(page.contains("href=\"/logout\""), "a way to sign out");
    assert!(page.contains("<section id=\"passkeys\""));
    assert!(!page.contains("<script"), "no script");
}

#[tokio::test]
async fn the_profile_is_saved_checked_and_guarded_by_its_token() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD).await;
    let browser = Browser::new();
    let page = sign_in(&app, &browser, "alice", PASSWORD).await;
    let csrf = hidden(&page, "csrf_token");
    let url = format!("{}/account/profile", app.address);

    let res = post(
        &browser,
        &url,
        &[
            ("csrf_token", &csrf),
            ("name", "Alice Liddell"),
            ("email", "alice@wonderland.example"),
        ],
    )
    .await;
    let to = location(&res);
    assert!(to.ends_with("/account?done=profile"), "{to}");
    let (_, page) = get(&browser, &to).await;
    assert!(page.contains("Your profile is saved."));
    assert!(page.contains("value=\"Alice Liddell\""));
    assert!(page.contains("value=\"alice@wonderland.example\""));

    // A malformed email is refused on the page, and nothing changes.
    let res = post(
        &browser,
        &url,
        &[
            ("csrf_token", &csrf),
            ("name", "Someone Else"),
            ("email", "no-at-sign"),
        ],
    )
    .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("one @"));

    // A wrong token: a readable 400, nothing changed.
    let res = post(
        &browser,
        &url,
        &[
            ("csrf_token", "forged"),
            ("name", "Mallory"),
            ("email", "mallory@example.com"),
        ],
    )
    .await;
    assert_eq!(res.status(), 400);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("This form is out of date; reload the account page"));
    let (_, page) = get(&browser, &format!("{}/account", app.address)).await;
    assert!(page.contains("value=\"Alice Liddell\"") && !page.contains("Mallory"));

    // Without a session, a form goes back to the account page (its login).
    let res = post(
        &Browser::new(),
        &url,
        &[("csrf_token", &csrf), ("name", "Nobody"), ("email", "")],
    )
    .await;
    assert_eq!(location(&res), format!("{}/account", app.address));
}

#[tokio::test]
async fn a_password_change_signs_out_the_other_sessions() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD).await;
    let secret = app.create_client(ClientSpec::default()).await.unwrap();
    let (here, elsewhere) = (Browser::new(), Browser::new());
    sign_in(&app, &elsewhere, "alice", PASSWORD).await;
    let page = sign_in(&app, &here, "alice", PASSWORD).await;
    let csrf = hidden(&page, "csrf_token");
    let url = format!("{}/account/password", app.address);
    let change = |current: &'static str, new: &'static str, again: &'static str| {
        let (here, url, csrf) = (&here, url.clone(), csrf.clone());
        async move {
            post(
                here,
                &url,
                &[
                    ("csrf_token", csrf.as_str()),
                    ("current_password", current),
                    ("new_password", new),
                    ("confirm_password", again),
                ],
            )
            .await
        }
    };

    let res = change("wrong password", NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(res.status(), 401);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("The current password is incorrect."));
    let res = change(PASSWORD, NEW_PASSWORD, "something else entirely").await;
    assert_eq!(res.status(), 400);
    let res = change(PASSWORD, "short", "short").await;
    assert_eq!(res.status(), 400);
    let (_, other) = get(&elsewhere, &format!("{}/account", app.address)).await;
    assert!(!is_login_form(&other), "nothing changed yet");

    let res = change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await;
    let done = location(&res);
    assert!(done.ends_with("/account?done=password"), "{done}");
    let (_, other) = get(&elsewhere, &format!("{}/account", app.address)).await;
    assert!(is_login_form(&other), "the other browser is signed out");
    let (_, mine) = get(&here, &done).await;
    assert!(!is_login_form(&mine), "this browser stays signed in");
    assert!(mine.contains("Your password is changed."));

    let (status, error) = error_of(
        app.password_grant(("app", &secret), ("alice", PASSWORD), "openid")
            .await,
    )
    .await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    let res = app
        .password_grant(("app", &secret), ("alice", NEW_PASSWORD), "openid")
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn wrong_current_passwords_count_in_the_brute_force_throttle() {
    let app = crate::helpers::spawn_app_with(crate::helpers::AppOptions {
        extra: vec![
            ("login_max_failures", "2".into()),
            ("login_slow_after", "0".into()),
        ],
        ..Default::default()
    })
    .await;
    app.create_user("alice", PASSWORD).await;
    let browser = Browser::new();
    let page = sign_in(&app, &browser, "alice", PASSWORD).await;
    let csrf = hidden(&page, "csrf_token");
    let url = format!("{}/account/password", app.address);
    let change = |current: &'static str| {
        let (browser, url, csrf) = (&browser, url.clone(), csrf.clone());
        async move {
            post(
                browser,
                &url,
                &[
                    ("csrf_token", csrf.as_str()),
                    ("current_password", current),
                    ("new_password", NEW_PASSWORD),
                    ("confirm_password", NEW_PASSWORD),
                ],
            )
            .await
        }
    };
    assert_eq!(change("wrong one").await.status(), 401);
    assert_eq!(change("wrong two").await.status(), 401);
    let res = change(PASSWORD).await;
    assert_eq!(res.status(), 429, "throttled, even with the right password");
    assert!(res.headers().contains_key("retry-after"));
    assert!(res.text().await.unwrap().contains("Too many"));
    let res = app
        .password_grant(
            (
                "app",
                &app.create_client(ClientSpec::default()).await.unwrap(),
            ),
            ("alice", NEW_PASSWORD),
            "openid",
        )
        .await;
    assert_ne!(res.status(), 200, "the password did not change");
}
