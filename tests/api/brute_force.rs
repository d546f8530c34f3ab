//! Brute-force defence and rate limits: repeated login failures lock an
//! account out (alike for unknown users), failures slow down past a
//! threshold, and a per-client limit caps token requests.

use portcullis::oauth::clients::GrantType;
use serde_json::Value;

use crate::helpers::browser::{location, Browser, CALLBACK};
use crate::helpers::{spawn_app_with, AppOptions, ClientSpec, PASSWORD};

fn throttled_app_options() -> AppOptions {
    AppOptions {
        extra: vec![
            ("login_max_failures", "3".into()),
            ("login_slow_after", "0".into()),
        ],
        ..Default::default()
    }
}

#[tokio::test]
async fn repeated_failures_are_refused_with_429_without_revealing_who_exists() {
    let app = spawn_app_with(throttled_app_options()).await;
    app.create_user("alice", PASSWORD).await;
    let secret = app.create_client(ClientSpec::default()).await.unwrap();
    let attempt = |user: &'static str, password: &'static str| {
        let (app, secret) = (&app, secret.clone());
        async move {
            app.post_token(
                &[
                    ("grant_type", "password"),
                    ("username", user),
                    ("password", password),
                ],
                Some(("app", &secret)),
            )
            .await
        }
    };
    // Two failures, then a success: the count starts again.
    for _ in 0..2 {
        assert_eq!(attempt("alice", "wrong password").await.status(), 400);
    }
    assert_eq!(attempt("alice", PASSWORD).await.status(), 200);
    for _ in 0..3 {
        assert_eq!(attempt("alice", "wrong password").await.status(), 400);
    }
    let res = attempt("alice", PASSWORD).await;
    assert_eq!(res.status(), 429, "locked even with the right password");
    let retry: i64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 900);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "temporarily_unavailable"
    );
    // An unknown username is throttled exactly alike.
    for _ in 0..3 {
        assert_eq!(attempt("mallory", "wrong password").await.status(), 400);
    }
    assert_eq!(attempt("mallory", "wrong password").await.status(), 429);

    // The login page answers with a page and Retry-After.
    let browser = Browser::new();
    let secret_web = app
        .create_client(ClientSpec {
            id: "web",
            grants: &[GrantType::AuthorizationCode],
            redirect_uris: &[CALLBACK],
            ..Default::default()
        })
        .await
        .unwrap();
    let _ = secret_web;
    let (challenge, _) = openidconnect::PkceCodeChallenge::new_random_sha256();
    let url = format!(
        "{}/authorize?response_type=code&client_id=web&redirect_uri={}&scope=openid&code_challenge={}&code_challenge_method=S256",
        app.address,
        CALLBACK,
        challenge.as_str()
    );
    let html = browser
        .get(&location(&browser.get(&url).await))
        .await
        .text()
        .await
        .unwrap();
    let res = browser
        .submit_login(&app.address, &html, "alice", PASSWORD)
        .await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Too many failed sign-in attempts"));

    // Failures and the lock-out are in the metrics and the audit trail.
    let metrics = app
        .http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("portcullis_login_failures_total{via=\"password_grant\"} 8"),
        "{metrics}"
    );
    let trail = String::from_utf8(app.cli(&["audit", "list", "--json"], None).stdout).unwrap();
    assert!(trail.contains("login.throttled"));
}

#[tokio::test]
async fn answers_slow_down_past_the_threshold() {
    let app = spawn_app_with(AppOptions {
        extra: vec![("login_slow_after", "1".into())],
        ..Default::default()
    })
    .await;
    app.create_user("alice", PASSWORD).await;
    let secret = app.create_client(ClientSpec::default()).await.unwrap();
    let form = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", "wrong password"),
    ];
    assert_eq!(
        app.post_token(&form, Some(("app", &secret))).await.status(),
        400
    );
    let started = std::time::Instant::now();
    assert_eq!(
        app.post_token(&form, Some(("app", &secret))).await.status(),
        400
    );
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "the second failure waited a second"
    );
    // Other endpoints are not held up meanwhile.
    let jwks = app
        .http
        .get(format!("{}/.well-known/jwks.json", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.status(), 200);
}

#[tokio::test]
async fn a_per_client_limit_caps_token_requests() {
    let app = spawn_app_with(AppOptions {
        extra: vec![("token_rate_limit", "2".into())],
        ..Default::default()
    })
    .await;
    let secret = app.create_service_client("svc").await;
    let requests = (0..10).map(|_| {
        app.post_token(
            &[("grant_type", "client_credentials")],
            Some(("svc", &secret)),
        )
    });
    let statuses: Vec<u16> = futures::future::join_all(requests)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert!((1..=4).contains(&ok), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
}
