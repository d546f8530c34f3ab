//! The account page, over HTTP as a browser uses it: its login form, the
//! profile, the password (which signs out the other sessions), an
//! authenticator app set up and removed there (its codes computed here by
//! a separate RFC 6238 implementation), recovery codes, the last factor
//! kept under `mfa_required`, the session list and the applications; every
//! form's CSRF token, and `Cache-Control: no-store` on every answer.

use hmac::{Hmac, Mac};
use portcullis::accounts::factors::{self, Listing};
use sha1::Sha1;

use crate::helpers::browser::{hidden, location, Browser};
use crate::helpers::{
    error_of, spawn_app, spawn_app_with, AppOptions, ClientSpec, TestApp, PASSWORD,
};

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

async fn listing(app: &TestApp, user_id: &str) -> Listing {
    let id = user_id.to_owned();
    app.ctx
        .db
        .run(move |conn| factors::listing(conn, &id))
        .await
        .unwrap()
}

/// RFC 4648 base32, without padding.
fn base32_decode(text: &str) -> Vec<u8> {
    let (mut out, mut buffer, mut bits) = (Vec::new(), 0u32, 0);
    for c in text.bytes().filter(|c| *c != b'=' && *c != b' ') {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a',
            b'2'..=b'7' => c - b'2' + 26,
            _ => panic!("not base32: {text}"),
        };
        buffer = (buffer << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    out
}

/// RFC 6238 (SHA-1, 30 s, 6 digits) at Unix time `at`.
fn totp(secret: &[u8], at: i64) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).unwrap();
    mac.update(&((at / 30) as u64).to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = usize::from(hash[19] & 0x0f);
    let binary = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]);
    format!("{:06}", binary % 1_000_000)
}

/// The secret an enrolment page shows.
fn secret_of(html: &str) -> Vec<u8> {
    let start = html.find("<code id=\"totp-secret\">").expect("a secret") + 23;
    let end = start + html[start..].find("</code>").unwrap();
    base32_decode(&html[start..end])
}

/// A code that is none of the ones the server accepts now.
fn wrong_code(secret: &[u8], now: i64) -> String {
    let right: Vec<String> = (-1..=1).map(|s| totp(secret, now + s * 30)).collect();
    (0..)
        .map(|n| format!("{n:06}"))
        .find(|c| !right.contains(c))
        .unwrap()
}

fn recovery_codes(html: &str) -> Vec<String> {
    let list = &html[html.find("id=\"recovery-codes\"").expect("recovery codes")..];
    let list = &list[..list.find("</ul>").unwrap()];
    list.split("<code>")
        .skip(1)
        .map(|c| c.split("</code>").next().unwrap().to_owned())
        .collect()
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
async fn an_authenticator_app_is_set_up_renewed_and_removed_on_the_account_page() {
    let app = spawn_app().await;
    let user_id = app.create_user("alice", PASSWORD).await;
    let browser = Browser::new();
    let page = sign_in(&app, &browser, "alice", PASSWORD).await;
    assert!(page.contains("No authenticator app is set up."));
    assert!(page.contains("href=\"/account/totp\""));
    let url = format!("{}/account/totp", app.address);
    let (status, enrol) = get(&browser, &url).await;
    assert_eq!(status, 200);
    assert!(enrol.contains("action=\"/account/totp\""), "{enrol}");
    let secret = secret_of(&enrol);
    assert_eq!(secret.len(), 20);
    let csrf = hidden(&enrol, "csrf_token");
    assert_eq!(csrf, hidden(&page, "csrf_token"));

    let wrong = wrong_code(&secret, app.now());
    let res = post(&browser, &url, &[("csrf_token", &csrf), ("code", &wrong)]).await;
    assert_eq!(res.status(), 401);
    let again = res.text().await.unwrap();
    assert!(again.contains("That code is not right"));
    assert_eq!(secret_of(&again), secret, "the same setup, shown again");
    assert_eq!(listing(&app, &user_id).await.totp_since, None);

    let right = totp(&secret, app.now());
    let res = post(&browser, &url, &[("csrf_token", &csrf), ("code", &right)]).await;
    assert_eq!(res.status(), 200);
    let first_codes = recovery_codes(&res.text().await.unwrap());
    assert_eq!(first_codes.len(), 10);
    let now = listing(&app, &user_id).await;
    assert!(now.totp_since.is_some());
    assert_eq!(now.recovery_codes_left, 10);
    let (_, page) = get(&browser, &format!("{}/account", app.address)).await;
    assert!(page.contains("10 left."), "{page}");
    assert!(!page.contains("href=\"/account/totp\""));

    // Signing in on the account page now asks for a code, then comes back.
    let other = Browser::new();
    let (_, form) = get(&other, &format!("{}/account", app.address)).await;
    let res = post(
        &other,
        &format!("{}/account/login", app.address),
        &[
            ("csrf_token", &hidden(&form, "csrf_token")),
            ("username", "alice"),
            ("password", PASSWORD),
        ],
    )
    .await;
    let step = location(&res);
    assert!(step.ends_with("/login/second-factor"), "{step}");
    let (_, factor) = get(&other, &step).await;
    // The enrolment spent this step's code: the next one (within the skew).
    let res = post(
        &other,
        &step,
        &[
            ("csrf_token", &hidden(&factor, "csrf_token")),
            ("method", "totp"),
            ("code", &totp(&secret, app.now() + 30)),
        ],
    )
    .await;
    assert_eq!(location(&res), format!("{}/account", app.address));
    let (_, page) = get(&other, &format!("{}/account", app.address)).await;
    assert!(!is_login_form(&page));

    // New recovery codes: the old ones stop working.
    let res = post(
        &browser,
        &format!("{}/account/recovery-codes", app.address),
        &[("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(res.status(), 200);
    let new_codes = recovery_codes(&res.text().await.unwrap());
    assert_eq!(new_codes.len(), 10);
    assert!(new_codes.iter().all(|c| !first_codes.contains(c)));
    let db = &app.ctx.db;
    let old = factors::use_recovery_code(db, &user_id, &first_codes[0], app.now()).await;
    assert_eq!(old.unwrap(), None);
    let new = factors::use_recovery_code(db, &user_id, &new_codes[0], app.now()).await;
    assert_eq!(new.unwrap(), Some(9));

    // Removed (no policy needs it).
    let res = post(
        &browser,
        &format!("{}/account/totp/remove", app.address),
        &[("csrf_token", &csrf)],
    )
    .await;
    assert!(location(&res).ends_with("/account?done=totp-removed"));
    assert_eq!(listing(&app, &user_id).await.totp_since, None);
    let (_, page) = get(&browser, &format!("{}/account", app.address)).await;
    assert!(page.contains("No authenticator app is set up."));
}

#[tokio::test]
async fn the_last_factor_cannot_be_removed_when_one_is_required() {
    let app = spawn_app_with(AppOptions {
        extra: vec![("mfa_required", "true".into())],
        ..Default::default()
    })
    .await;
    let user_id = app.create_user("alice", PASSWORD).await;
    let browser = Browser::new();
    let account = format!("{}/account", app.address);
    let (_, form) = get(&browser, &account).await;
    let res = post(
        &browser,
        &format!("{account}/login"),
        &[
            ("csrf_token", &hidden(&form, "csrf_token")),
            ("username", "alice"),
            ("password", PASSWORD),
        ],
    )
    .await;
    // A factor is required and alice has none: she sets one up first.
    let to = location(&res);
    assert!(to.ends_with("/login/second-factor"), "{to}");
    let (status, enrol) = get(&browser, &to).await;
    assert_eq!(status, 200);
    let secret = secret_of(&enrol);
    let res = post(
        &browser,
        &format!("{}/login/enrol", app.address),
        &[
            ("csrf_token", &hidden(&enrol, "csrf_token")),
            ("code", &totp(&secret, app.now())),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert_eq!(recovery_codes(&html).len(), 10);
    assert!(html.contains(&format!("href=\"{account}\"")), "{html}");

    let (status, page) = get(&browser, &account).await;
    assert_eq!(status, 200);
    assert!(!is_login_form(&page), "{page}");
    let res = post(
        &browser,
        &format!("{account}/totp/remove"),
        &[("csrf_token", &hidden(&page, "csrf_token"))],
    )
    .await;
    assert_eq!(res.status(), 409);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("requires a second factor"));
    assert!(listing(&app, &user_id).await.totp_since.is_some());
}

#[tokio::test]
async fn sessions_are_listed_and_ended_from_the_account_page() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD).await;
    let bob_id = app.create_user("bob", PASSWORD).await;
    let (here, elsewhere, bobs) = (Browser::new(), Browser::new(), Browser::new());
    sign_in(&app, &elsewhere, "alice", PASSWORD).await;
    sign_in(&app, &bobs, "bob", PASSWORD).await;
    let page = sign_in(&app, &here, "alice", PASSWORD).await;
    assert_eq!(page.matches("<li class=\"session\">").count(), 2, "{page}");
    assert_eq!(page.matches("<strong>This browser</strong>").count(), 1);
    let other = hidden(&page, "session");
    let csrf = hidden(&page, "csrf_token");
    let end = format!("{}/account/sessions/end", app.address);

    // Bob's session is not alice's to end.
    let now = app.now();
    let bob_sessions = app
        .ctx
        .db
        .run(move |conn| portcullis::store::sessions::live_of_user(conn, &bob_id, now))
        .await
        .unwrap();
    assert_eq!(bob_sessions.len(), 1);
    let bob_hash = bob_sessions[0].id_hash.clone();
    let res = post(
        &here,
        &end,
        &[("csrf_token", &csrf), ("session", &bob_hash)],
    )
    .await;
    assert_eq!(res.status(), 400);
    let (_, bob) = get(&bobs, &format!("{}/account", app.address)).await;
    assert!(!is_login_form(&bob), "bob is still signed in");

    let res = post(&here, &end, &[("csrf_token", &csrf), ("session", &other)]).await;
    assert!(location(&res).ends_with("/account?done=session-ended"));
    let (_, there) = get(&elsewhere, &format!("{}/account", app.address)).await;
    assert!(is_login_form(&there));
    let (_, page) = get(&here, &format!("{}/account", app.address)).await;
    assert_eq!(page.matches("<li class=\"session\">").count(), 1);

    // Sign out everywhere else.
    let elsewhere_page = sign_in(&app, &elsewhere, "alice", PASSWORD).await;
    let res = post(
        &here,
        &format!("{}/account/sessions/end-others", app.address),
        &[("csrf_token", &csrf)],
    )
    .await;
    assert!(location(&res).ends_with("/account?done=sessions-ended"));
    let (_, there) = get(&elsewhere, &format!("{}/account", app.address)).await;
    assert!(is_login_form(&there));
    let (_, mine) = get(&here, &format!("{}/account", app.address)).await;
    assert!(!is_login_form(&mine));
    let (_, bob) = get(&bobs, &format!("{}/account", app.address)).await;
    assert!(!is_login_form(&bob), "bob's session is his own");

    // A browser whose session ended: its form (with the token of its old
    // page) goes back to the account page, and changes nothing.
    let res = post(
        &elsewhere,
        &format!("{}/account/profile", app.address),
        &[
            ("csrf_token", &hidden(&elsewhere_page, "csrf_token")),
            ("name", "Changed"),
            ("email", ""),
        ],
    )
    .await;
    assert_eq!(location(&res), format!("{}/account", app.address));
    let (_, mine) = get(&here, &format!("{}/account", app.address)).await;
    assert!(mine.contains("value=\"Test User\""), "unchanged");
}

#[tokio::test]
async fn applications_are_listed_and_revoked() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD).await;
    let secret = app.create_client(ClientSpec::default()).await.unwrap();
    let tokens = app
        .password_token_pair(("app", &secret), ("alice", PASSWORD), "openid")
        .await;
    let refresh = tokens.refresh().to_owned();
    let browser = Browser::new();
    let page = sign_in(&app, &browser, "alice", PASSWORD).await;
    assert!(page.contains("<code>app</code>"), "{page}");
    assert!(page.contains("<li class=\"application\">"));
    let csrf = hidden(&page, "csrf_token");
    let revoke = format!("{}/account/applications/revoke", app.address);

    // A wrong token revokes nothing.
    let res = post(
        &browser,
        &revoke,
        &[("csrf_token", "x"), ("client_id", "app")],
    )
    .await;
    assert_eq!(res.status(), 400);
    let (_, page) = get(&browser, &format!("{}/account", app.address)).await;
    assert!(page.contains("<code>app</code>"));

    let res = post(
        &browser,
        &revoke,
        &[("csrf_token", &csrf), ("client_id", "app")],
    )
    .await;
    assert!(location(&res).ends_with("/account?done=app-revoked"));
    let (_, page) = get(&browser, &format!("{}/account", app.address)).await;
    assert!(!page.contains("<li class=\"application\">"), "{page}");
    assert!(page.contains("No application has access to your account."));
    let (status, error) = error_of(
        app.post_token(
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            Some(("app", &secret)),
        )
        .await,
    )
    .await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
}

/// Signs alice in on the account page of a server that requires a second
/// factor: she sets up an authenticator app on the way. Returns the page.
async fn sign_in_enrolling(app: &TestApp, browser: &Browser) -> String {
    let account = format!("{}/account", app.address);
    let (_, form) = get(browser, &account).await;
    let res = post(
        browser,
        &format!("{account}/login"),
        &[
            ("csrf_token", &hidden(&form, "csrf_token")),
            ("username", "alice"),
            ("password", PASSWORD),
        ],
    )
    .await;
    let (_, enrol) = get(browser, &location(&res)).await;
    let secret = secret_of(&enrol);
    let res = post(
        browser,
        &format!("{}/login/enrol", app.address),
        &[
            ("csrf_token", &hidden(&enrol, "csrf_token")),
            ("code", &totp(&secret, app.now())),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    let (status, page) = get(browser, &account).await;
    assert_eq!(status, 200);
    assert!(!is_login_form(&page), "{page}");
    page
}

async fn add_passkey(app: &TestApp, user_id: &str, id: &str, name: &str) {
    let row = portcullis::store::second_factors::PasskeyRow {
        credential_id: id.to_owned(),
        user_id: user_id.to_owned(),
        name: name.to_owned(),
        public_key: vec![1, 2, 3],
        sign_count: 0,
        backup_eligible: true,
        backup_state: true,
        created_at: app.now(),
        last_used_at: None,
    };
    app.ctx
        .db
        .write(move |conn| portcullis::store::second_factors::insert_passkey(conn, &row))
        .await
        .unwrap();
}

#[tokio::test]
async fn passkeys_are_renamed_and_removed_and_the_last_factor_stays() {
    let app = spawn_app_with(AppOptions {
        extra: vec![("mfa_required", "true".into())],
        ..Default::default()
    })
    .await;
    let user_id = app.create_user("alice", PASSWORD).await;
    let bob_id = app.create_user("bob", PASSWORD).await;
    let browser = Browser::new();
    sign_in_enrolling(&app, &browser).await;
    add_passkey(&app, &user_id, "cred-alice", "Old laptop").await;
    add_passkey(&app, &bob_id, "cred-bob", "Bob's key").await;
    let account = format!("{}/account", app.address);
    let (_, page) = get(&browser, &account).await;
    assert!(
        page.contains("<strong>Old laptop</strong> (synced)"),
        "{page}"
    );
    assert!(!page.contains("Bob"));
    let csrf = hidden(&page, "csrf_token");

    let rename = format!("{account}/passkeys/rename");
    let res = post(
        &browser,
        &rename,
        &[
            ("csrf_token", &csrf),
            ("id", "cred-alice"),
            ("name", "  Work laptop "),
        ],
    )
    .await;
    assert!(location(&res).ends_with("/account?done=passkey-renamed"));
    let (_, page) = get(&browser, &account).await;
    assert!(page.contains("<strong>Work laptop</strong>"));
    let res = post(
        &browser,
        &rename,
        &[("csrf_token", &csrf), ("id", "cred-alice"), ("name", "")],
    )
    .await;
    assert_eq!(res.status(), 400, "a name is needed");
    let res = post(
        &browser,
        &rename,
        &[
            ("csrf_token", &csrf),
            ("id", "cred-bob"),
            ("name", "Mine now"),
        ],
    )
    .await;
    assert_eq!(res.status(), 400, "bob's passkey is not alice's");
    let res = post(
        &browser,
        &format!("{account}/passkeys/remove"),
        &[("csrf_token", &csrf), ("id", "cred-bob")],
    )
    .await;
    assert_eq!(res.status(), 400);
    assert_eq!(listing(&app, &bob_id).await.passkeys.len(), 1);
    assert_eq!(listing(&app, &bob_id).await.passkeys[0].name, "Bob's key");

    // The passkey stays, so the authenticator app may go; then the passkey
    // is the last factor and stays.
    let res = post(
        &browser,
        &format!("{account}/totp/remove"),
        &[("csrf_token", &csrf)],
    )
    .await;
    assert!(location(&res).ends_with("/account?done=totp-removed"));
    let res = post(
        &browser,
        &format!("{account}/passkeys/remove"),
        &[("csrf_token", &csrf), ("id", "cred-alice")],
    )
    .await;
    assert_eq!(res.status(), 409);
    let left = listing(&app, &user_id).await;
    assert_eq!((left.totp_since, left.passkeys.len()), (None, 1));
}

#[tokio::test]
async fn the_account_page_tells_events_and_keeps_an_audit_trail() {
    let app = spawn_app().await;
    let user_id = app.create_user("alice", PASSWORD).await;
    app.create_client(ClientSpec::default()).await.unwrap();
    let (id, now) = (user_id.clone(), app.now());
    app.ctx
        .db
        .write(move |conn| {
            portcullis::store::authorization::save_consent(conn, &id, "app", "openid email", now)
        })
        .await
        .unwrap();
    let mut events = app.ctx.events.subscribe();
    let (here, elsewhere) = (Browser::new(), Browser::new());
    sign_in(&app, &elsewhere, "alice", PASSWORD).await;
    let page = sign_in(&app, &here, "alice", PASSWORD).await;
    assert!(
        page.contains("allowed <code>openid email</code>"),
        "a remembered consent is listed: {page}"
    );
    let csrf = hidden(&page, "csrf_token");
    let account = format!("{}/account", app.address);

    post(
        &here,
        &format!("{account}/profile"),
        &[
            ("csrf_token", &csrf),
            ("name", "Alice"),
            ("email", "a@example.org"),
        ],
    )
    .await;
    let res = post(
        &here,
        &format!("{account}/password"),
        &[
            ("csrf_token", &csrf),
            ("current_password", PASSWORD),
            ("new_password", NEW_PASSWORD),
            ("confirm_password", NEW_PASSWORD),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let portcullis::events::Event::SessionEnded {
        user_id: ended_for,
        reason,
        ..
    } = tokio::time::timeout(std::time::Duration::from_secs(5), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended_for, user_id);
    assert_eq!(
        reason,
        portcullis::events::SessionEndReason::PasswordChanged
    );
    assert!(events.try_recv().is_err(), "only the other session ended");

    let res = post(
        &here,
        &format!("{account}/applications/revoke"),
        &[("csrf_token", &csrf), ("client_id", "app")],
    )
    .await;
    assert_eq!(res.status(), 303);
    let id = user_id.clone();
    let (consent, trail) = app
        .ctx
        .db
        .run(move |conn| {
            Ok::<_, portcullis::store::StoreError>((
                portcullis::store::authorization::find_consent(conn, &id, "app")?,
                portcullis::store::audit::list_since(conn, 0, 1000)?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(consent, None, "the consent is forgotten");
    let actions: Vec<&str> = trail
        .iter()
        .filter(|e| e.actor == user_id)
        .map(|e| e.action.as_str())
        .collect();
    for action in [
        "user.profile_updated",
        "user.password_set",
        "consent.revoked",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}
