//! Second factors on the account page: an authenticator app, recovery
//! codes, passkeys, and the last factor a policy keeps.

use hmac::{Hmac, Mac};
use portcullis::accounts::factors::{self, Listing};
use sha1::Sha1;

use super::{get, is_login_form, post, sign_in};
use crate::helpers::browser::{hidden, location, Browser};
use crate::helpers::{spawn_app, spawn_app_with, AppOptions, TestApp, PASSWORD};

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
