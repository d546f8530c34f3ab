//! The device authorization grant (RFC 8628): the device's requests and
//! polls, the person's pages (as a cookie-keeping HTTP client; the same
//! flow in Chromium is in `browser.rs`), races, and two replicas.

use portcullis::oauth::clients::GrantType;
use serde_json::Value;

use crate::helpers::browser::{hidden, Browser};
use crate::helpers::cluster::Cluster;
use crate::helpers::tokens::TokenResponse;
use crate::helpers::{
    spawn_app_with, unverified_claims, AppOptions, ClientSpec, TestApp, PASSWORD,
};

pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A server with alice and the public client `tv` (device and refresh
/// grants), on a manual clock.
async fn device_app() -> TestApp {
    let app = spawn_app_with(AppOptions {
        manual_clock: true,
        ..Default::default()
    })
    .await;
    app.create_user("alice", PASSWORD).await;
    app.create_client(ClientSpec {
        id: "tv",
        public: true,
        grants: &[GrantType::DeviceCode, GrantType::RefreshToken],
        scope: "openid profile offline_access",
        resources: &["https://media.example"],
        ..Default::default()
    })
    .await;
    app
}

async fn start(app: &TestApp, form: &[(&str, &str)]) -> (u16, Value) {
    let res = app.post_form("/device_authorization", form, None).await;
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn poll(app: &TestApp, device_code: &str) -> (u16, Value) {
    let res = app
        .post_token(
            &[
                ("grant_type", DEVICE_GRANT),
                ("device_code", device_code),
                ("client_id", "tv"),
            ],
            None,
        )
        .await;
    (res.status().as_u16(), res.json().await.unwrap())
}

fn error(answer: &(u16, Value)) -> (u16, &str) {
    (answer.0, answer.1["error"].as_str().unwrap_or("(none)"))
}

/// The person's side: opens `url` (the complete verification URI), submits
/// the prefilled code as `typed` (or as shown), signs in if asked, and
/// answers `decision`. Returns the last page's status and text.
pub async fn approve_in(
    browser: &Browser,
    base: &str,
    url: &str,
    typed: Option<&str>,
    decision: &str,
) -> (u16, String) {
    let entry = browser.get(url).await;
    assert_eq!(entry.status(), 200);
    let html = entry.text().await.unwrap();
    let csrf = hidden(&html, "csrf_token");
    let code = typed.map(str::to_owned).unwrap_or_else(|| {
        let start = html
            .find("name=\"user_code\" type=\"text\" value=\"")
            .expect("a code field")
            + "name=\"user_code\" type=\"text\" value=\"".len();
        html[start..].split('"').next().unwrap().to_owned()
    });
    let res = browser
        .post(
            &format!("{base}/device"),
            &[("csrf_token", &csrf), ("user_code", &code)],
        )
        .await;
    assert_eq!(res.status(), 200);
    let mut page = res.text().await.unwrap();
    if page.contains("action=\"/device/login\"") {
        let res = browser
            .post(
                &format!("{base}/device/login"),
                &[
                    ("csrf_token", &csrf),
                    ("user_code", &hidden(&page, "user_code")),
                    ("username", "alice"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(res.status(), 200);
        page = res.text().await.unwrap();
    }
    assert!(page.contains("action=\"/device/confirm\""), "{page}");
    let res = browser
        .post(
            &format!("{base}/device/confirm"),
            &[
                ("csrf_token", &csrf),
                ("user_code", &hidden(&page, "user_code")),
                ("decision", decision),
            ],
        )
        .await;
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn a_device_gets_its_tokens_once_after_the_person_approves() {
    let app = device_app().await;
    let (status, auth) = start(
        &app,
        &[
            ("client_id", "tv"),
            ("scope", "openid profile offline_access"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{auth}");
    let user_code = auth["user_code"].as_str().unwrap();
    assert_eq!(user_code.len(), 9);
    assert_eq!(&user_code[4..5], "-");
    assert!(user_code
        .chars()
        .filter(|c| *c != '-')
        .all(|c| "BCDFGHJKLMNPQRSTVWXZ".contains(c)));
    assert_eq!(auth["verification_uri"], format!("{}/device", app.address));
    assert_eq!(
        auth["verification_uri_complete"],
        format!("{}/device?user_code={user_code}", app.address)
    );
    assert_eq!(auth["expires_in"], 600);
    assert_eq!(auth["interval"], 5);
    let device_code = auth["device_code"].as_str().unwrap();
    assert!(device_code.len() >= 43, "256 bits, base64url");

    assert_eq!(
        error(&poll(&app, device_code).await),
        (400, "authorization_pending")
    );
    // Too soon: slow_down, and the interval is now 10 s from that poll.
    app.advance(3);
    assert_eq!(error(&poll(&app, device_code).await), (400, "slow_down"));
    // Still too soon: slow_down again, but the interval grows once per
    // early spell, not per request...
    app.advance(6);
    assert_eq!(error(&poll(&app, device_code).await), (400, "slow_down"));
    // ...so 10 s after the first slow_down the device is on time.
    app.advance(4);
    assert_eq!(
        error(&poll(&app, device_code).await),
        (400, "authorization_pending")
    );
    // Early again: 15 s now.
    app.advance(1);
    assert_eq!(error(&poll(&app, device_code).await), (400, "slow_down"));
    app.advance(14);
    assert_eq!(error(&poll(&app, device_code).await), (400, "slow_down"));
    app.advance(1);
    assert_eq!(
        error(&poll(&app, device_code).await),
        (400, "authorization_pending")
    );

    // The person types it in lower case without the dash.
    let typed = user_code.replace('-', "").to_lowercase();
    let browser = Browser::new();
    let url = auth["verification_uri_complete"].as_str().unwrap();
    let (status, page) = approve_in(&browser, &app.address, url, Some(&typed), "approve").await;
    assert_eq!(status, 200);
    assert!(page.contains("Device connected"), "{page}");

    let (status, body) = poll(&app, device_code).await;
    assert_eq!(status, 200, "{body}");
    let tokens: TokenResponse = serde_json::from_value(body).unwrap();
    let claims = app
        .verify_access_token(&tokens.access_token, "https://media.example")
        .await;
    assert!(
        claims.is_err(),
        "no resource was asked for: the default audience"
    );
    assert_eq!(unverified_claims(&tokens.access_token)["client_id"], "tv");
    assert_eq!(unverified_claims(tokens.id())["aud"], "tv");
    // The refresh token works like any other.
    let res = app
        .post_token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens.refresh()),
                ("client_id", "tv"),
            ],
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    // Exactly once.
    assert_eq!(
        error(&poll(&app, device_code).await),
        (400, "invalid_grant")
    );
}

#[tokio::test]
async fn the_confirmation_page_always_shows_client_scopes_and_code_and_sso_is_reused() {
    let app = device_app().await;
    let browser = Browser::new();
    let (_, first) = start(&app, &[("client_id", "tv"), ("scope", "openid profile")]).await;
    let url = first["verification_uri_complete"].as_str().unwrap();
    let (status, _) = approve_in(&browser, &app.address, url, None, "approve").await;
    assert_eq!(status, 200);
    // A second device: the session is live, so no sign-in — straight to confirm.
    let (_, second) = start(&app, &[("client_id", "tv"), ("scope", "openid")]).await;
    let entry = browser
        .get(second["verification_uri_complete"].as_str().unwrap())
        .await;
    let html = entry.text().await.unwrap();
    let code = second["user_code"].as_str().unwrap();
    assert!(
        html.contains(&format!("value=\"{code}\"")),
        "prefilled: {html}"
    );
    let res = browser
        .post(
            &format!("{}/device", app.address),
            &[
                ("csrf_token", &hidden(&html, "csrf_token")),
                ("user_code", code),
            ],
        )
        .await;
    let page = res.text().await.unwrap();
    assert!(page.contains("action=\"/device/confirm\""), "{page}");
    assert!(page.contains(code), "the code is shown");
    assert!(page.contains("<strong>tv</strong>"), "the client is named");
    assert!(
        page.contains("<code>openid</code>"),
        "the scopes are listed"
    );
    assert!(
        page.contains("someone sent you this code"),
        "the phishing warning"
    );
    assert!(!page.contains("<code>profile</code>"));
}

#[tokio::test]
async fn denied_expired_and_foreign_codes_have_their_errors() {
    let app = device_app().await;
    app.create_client(ClientSpec {
        id: "radio",
        public: true,
        grants: &[GrantType::DeviceCode],
        ..Default::default()
    })
    .await;
    let browser = Browser::new();
    let (_, denied) = start(&app, &[("client_id", "tv")]).await;
    let url = denied["verification_uri_complete"].as_str().unwrap();
    let (status, page) = approve_in(&browser, &app.address, url, None, "deny").await;
    assert_eq!(status, 200);
    assert!(page.contains("Request denied"));
    let code = denied["device_code"].as_str().unwrap();
    assert_eq!(error(&poll(&app, code).await), (400, "access_denied"));

    // Another client's device code.
    let res = app
        .post_token(
            &[
                ("grant_type", DEVICE_GRANT),
                ("device_code", code),
                ("client_id", "radio"),
            ],
            None,
        )
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
    assert_eq!(error(&poll(&app, "made-up").await), (400, "invalid_grant"));

    let (_, late) = start(&app, &[("client_id", "tv")]).await;
    app.advance(601);
    let code = late["device_code"].as_str().unwrap();
    assert_eq!(error(&poll(&app, code).await), (400, "expired_token"));
    // Its user code no longer opens a confirmation page.
    let entry = browser
        .get(late["verification_uri_complete"].as_str().unwrap())
        .await;
    let html = entry.text().await.unwrap();
    let res = browser
        .post(
            &format!("{}/device", app.address),
            &[
                ("csrf_token", &hidden(&html, "csrf_token")),
                ("user_code", late["user_code"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("That code is not valid"));
}

#[tokio::test]
async fn the_device_endpoint_checks_client_grant_scope_and_resource() {
    let app = device_app().await;
    let web = app.create_client(ClientSpec::named("web")).await.unwrap();
    let res = app
        .post_form("/device_authorization", &[], Some(("web", &web)))
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "unauthorized_client"
    );
    for (form, expected) in [
        (
            vec![("client_id", "tv"), ("scope", "admin")],
            (400, "invalid_scope"),
        ),
        (
            vec![("client_id", "tv"), ("resource", "https://other.example")],
            (400, "invalid_target"),
        ),
        (vec![("client_id", "nobody")], (401, "invalid_client")),
        (vec![], (401, "invalid_client")),
        (
            vec![
                ("client_id", "tv"),
                ("scope", "openid"),
                ("scope", "openid"),
            ],
            (400, "invalid_request"),
        ),
    ] {
        let answer = start(&app, &form).await;
        assert_eq!(error(&answer), expected, "{form:?}");
    }
    let res = app
        .post_token(&[("grant_type", DEVICE_GRANT), ("client_id", "tv")], None)
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    // A resource asked for at the device endpoint is the token's audience.
    let (status, auth) = start(
        &app,
        &[("client_id", "tv"), ("resource", "https://media.example")],
    )
    .await;
    assert_eq!(status, 200);
    let browser = Browser::new();
    let url = auth["verification_uri_complete"].as_str().unwrap();
    approve_in(&browser, &app.address, url, None, "approve").await;
    let (status, body) = poll(&app, auth["device_code"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap();
    app.verify_access_token(token, "https://media.example")
        .await
        .unwrap();
}

#[tokio::test]
async fn racing_polls_after_approval_get_tokens_once() {
    let app = device_app().await;
    let (_, auth) = start(&app, &[("client_id", "tv")]).await;
    let url = auth["verification_uri_complete"].as_str().unwrap();
    approve_in(&Browser::new(), &app.address, url, None, "approve").await;
    let code = auth["device_code"].as_str().unwrap();
    let polls = (0..8).map(|_| poll(&app, code));
    let answers = futures::future::join_all(polls).await;
    let won = answers.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(won, 1, "{answers:?}");
    assert!(answers
        .iter()
        .filter(|(s, _)| *s != 200)
        .all(|a| error(a) == (400, "invalid_grant")));
}

#[tokio::test]
async fn wrong_user_codes_are_throttled_and_forged_forms_refused() {
    let app = device_app().await;
    let (_, auth) = start(&app, &[("client_id", "tv")]).await;
    let browser = Browser::new();
    let html = browser
        .get(&format!("{}/device", app.address))
        .await
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf_token");
    let post = |code: &'static str| {
        let (browser, csrf, base) = (&browser, csrf.clone(), app.address.clone());
        async move {
            browser
                .post(
                    &format!("{base}/device"),
                    &[("csrf_token", &csrf), ("user_code", code)],
                )
                .await
        }
    };
    for _ in 0..10 {
        assert_eq!(post("BCDF-GHJK").await.status(), 400);
    }
    let real = auth["user_code"].as_str().unwrap().to_owned();
    let res = browser
        .post(
            &format!("{}/device", app.address),
            &[("csrf_token", &csrf), ("user_code", &real)],
        )
        .await;
    assert_eq!(res.status(), 429, "even the right code, once throttled");
    assert!(res.headers().contains_key("retry-after"));
    // A form not from this browser's page.
    let stranger = Browser::new();
    let res = stranger
        .post(
            &format!("{}/device", app.address),
            &[("csrf_token", &csrf), ("user_code", &real)],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("security token"));
}

async fn cluster_with_tv() -> Cluster {
    let mut cluster = Cluster::new(&[]);
    cluster.cli(&["migrate"], None);
    cluster.cli(
        &["user", "add", "alice", "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
    );
    // The CLI takes the grant's short name.
    cluster.cli(
        &[
            "client",
            "add",
            "tv",
            "--public",
            "--grant-types",
            "device_code,refresh_token",
            "--scope",
            "openid",
        ],
        None,
    );
    cluster.start_replica().await;
    cluster.start_replica().await;
    cluster
}

#[tokio::test]
async fn approved_at_one_replica_polled_at_another_with_the_interval_shared() {
    let cluster = cluster_with_tv().await;
    let (a, b) = (cluster.at(0).to_owned(), cluster.at(1).to_owned());
    let http = reqwest::Client::new();
    let auth: Value = http
        .post(format!("{}/device_authorization", a))
        .form(&[("client_id", "tv"), ("scope", "openid")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = auth["device_code"].as_str().unwrap();
    let poll_at = |at: String| {
        let http = http.clone();
        let code = code.to_owned();
        async move {
            let res = http
                .post(format!("{at}/token"))
                .form(&[
                    ("grant_type", DEVICE_GRANT),
                    ("device_code", &code),
                    ("client_id", "tv"),
                ])
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };
    assert_eq!(
        error(&poll_at(b.clone()).await),
        (400, "authorization_pending")
    );
    // Polled again at once, at the other replica: too fast all the same.
    assert_eq!(error(&poll_at(a.clone()).await), (400, "slow_down"));
    let browser = Browser::new();
    let url = format!(
        "{}/device?user_code={}",
        a,
        auth["user_code"].as_str().unwrap()
    );
    let (status, _) = approve_in(&browser, &a, &url, None, "approve").await;
    assert_eq!(status, 200);
    let (status, body) = poll_at(b.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["id_token"].is_string() && body["refresh_token"].is_string());
    assert_eq!(error(&poll_at(a.clone()).await), (400, "invalid_grant"));
}
