//! Introspection, revocation, brute-force defence, rate limits, input
//! limits, and the operations endpoints.

use portcullis::oauth::clients::GrantType;
use serde_json::Value;

use crate::helpers::browser::{hidden, location, Browser, CALLBACK};
use crate::helpers::{
    resource_setup, spawn_app_with, AppOptions, ClientSpec, ResourceSetup, PASSWORD,
};

#[tokio::test]
async fn introspection_tells_the_right_callers_about_live_tokens_only() {
    let ResourceSetup {
        app,
        web,
        api,
        other,
    } = resource_setup().await;
    let tokens = app
        .password_tokens(("web", &web), ("alice", PASSWORD), "openid api:read")
        .await;
    let (at, rt) = (
        tokens["access_token"].as_str().unwrap(),
        tokens["refresh_token"].as_str().unwrap(),
    );

    let res = app
        .post_form("/introspect", &[("token", at)], Some(("api", &api)))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let info: Value = res.json().await.unwrap();
    assert_eq!(info["active"], true);
    assert_eq!(info["client_id"], "web");
    assert_eq!(info["scope"], "openid api:read");
    assert_eq!(info["aud"], "api");
    assert_eq!(info["iss"], app.address.as_str());
    assert_eq!(info["token_type"], "Bearer");
    assert!(info["exp"].as_i64().unwrap() > info["iat"].as_i64().unwrap());
    assert!(info["sub"].is_string());

    let own: Value = app
        .post_form(
            "/introspect",
            &[("token", rt), ("token_type_hint", "refresh_token")],
            Some(("web", &web)),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(own["active"], true);
    assert_eq!(own["token_type"], "refresh_token");

    // Not the caller's to see, malformed, unknown: all simply inactive.
    for (token, caller) in [
        (at, ("other", other.as_str())),
        (rt, ("api", api.as_str())),
        ("garbage", ("api", api.as_str())),
        ("a.b.c", ("api", api.as_str())),
    ] {
        let info: Value = app
            .post_form("/introspect", &[("token", token)], Some(caller))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            info,
            serde_json::json!({"active": false}),
            "{token} for {}",
            caller.0
        );
    }
    // The caller must authenticate, and be confidential.
    let res = app.post_form("/introspect", &[("token", at)], None).await;
    assert_eq!(res.status(), 401);
    app.create_client(ClientSpec {
        id: "spa",
        public: true,
        ..Default::default()
    })
    .await;
    let res = app
        .post_form("/introspect", &[("token", at), ("client_id", "spa")], None)
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "unauthorized_client"
    );
    let res = app.post_form("/introspect", &[], Some(("api", &api))).await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );

    // A spent refresh token is inactive.
    app.post_token(
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
        Some(("web", &web)),
    )
    .await;
    let info: Value = app
        .post_form("/introspect", &[("token", rt)], Some(("web", &web)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["active"], false);
}

#[tokio::test]
async fn an_expired_access_token_is_inactive() {
    let app = spawn_app_with(AppOptions {
        access_token_ttl: 1,
        manual_clock: true,
        ..Default::default()
    })
    .await;
    let secret = app
        .create_client(ClientSpec {
            id: "svc",
            grants: &[GrantType::ClientCredentials],
            ..Default::default()
        })
        .await
        .unwrap();
    let res = app
        .post_token(
            &[("grant_type", "client_credentials")],
            Some(("svc", &secret)),
        )
        .await;
    let at = res.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let info: Value = app
        .post_form("/introspect", &[("token", &at)], Some(("svc", &secret)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["active"], true);
    app.advance(2);
    let info: Value = app
        .post_form("/introspect", &[("token", &at)], Some(("svc", &secret)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["active"], false);
}

#[tokio::test]
async fn revocation_kills_refresh_families_and_access_tokens() {
    let ResourceSetup {
        app,
        web,
        api,
        other,
    } = resource_setup().await;
    let tokens = app
        .password_tokens(("web", &web), ("alice", PASSWORD), "openid")
        .await;
    let (at, rt) = (
        tokens["access_token"].as_str().unwrap(),
        tokens["refresh_token"].as_str().unwrap(),
    );
    let second = app
        .post_token(
            &[("grant_type", "refresh_token"), ("refresh_token", rt)],
            Some(("web", &web)),
        )
        .await;
    let second: Value = second.json().await.unwrap();
    let rt2 = second["refresh_token"].as_str().unwrap();

    // Another client cannot revoke web's tokens.
    let res = app
        .post_form("/revoke", &[("token", rt2)], Some(("other", &other)))
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "unauthorized_client"
    );

    let res = app
        .post_form(
            "/revoke",
            &[("token", rt2), ("token_type_hint", "refresh_token")],
            Some(("web", &web)),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .post_token(
            &[("grant_type", "refresh_token"), ("refresh_token", rt2)],
            Some(("web", &web)),
        )
        .await;
    assert_eq!(res.status(), 400, "the family is revoked");

    // The access token is denied by jti until it expires.
    let userinfo = format!("{}/userinfo", app.address);
    assert_eq!(
        app.http
            .get(&userinfo)
            .bearer_auth(at)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let res = app
        .post_form(
            "/revoke",
            &[("token", at), ("token_type_hint", "access_token")],
            Some(("web", &web)),
        )
        .await;
    assert_eq!(res.status(), 200);
    let info: Value = app
        .post_form("/introspect", &[("token", at)], Some(("api", &api)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["active"], false);
    assert_eq!(
        app.http
            .get(&userinfo)
            .bearer_auth(at)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // Revoking again, or an unknown token, is fine (RFC 7009 §2.2).
    assert_eq!(
        app.post_form("/revoke", &[("token", at)], Some(("web", &web)))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.post_form("/revoke", &[("token", "never-issued")], Some(("web", &web)))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.post_form("/revoke", &[("token", "x")], Some(("web", "wrong")))
            .await
            .status(),
        401
    );

    let doc: Value = app
        .http
        .get(format!("{}/.well-known/openid-configuration", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["introspection_endpoint"],
        format!("{}/introspect", app.address)
    );
    assert_eq!(
        doc["revocation_endpoint"],
        format!("{}/revoke", app.address)
    );
}

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
        .post(
            &format!("{}/login", app.address),
            &[
                ("request", &hidden(&html, "request")),
                ("csrf_token", &hidden(&html, "csrf_token")),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
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
    let secret = app
        .create_client(ClientSpec {
            id: "svc",
            grants: &[GrantType::ClientCredentials],
            ..Default::default()
        })
        .await
        .unwrap();
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

/// Deterministic junk, so a failure can be replayed.
fn junk(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[tokio::test]
async fn a_corpus_of_malformed_requests_gets_clean_errors_and_leaves_the_server_healthy() {
    let ResourceSetup { app, web, .. } = resource_setup().await;
    let big = "a".repeat(100 * 1024);
    let form_bodies: Vec<Vec<u8>> = vec![
        format!("grant_type=password&username={big}").into_bytes(),
        b"grant_type=password&grant_type=password".to_vec(),
        b"grant_type=pass%zzword".to_vec(),
        b"grant_type=%FF%FE".to_vec(),
        b"grant_type=password&username=alice&password=%".to_vec(),
        b"grant_type=\xff\xfe\xfd".to_vec(),
        b"token=%00".to_vec(),
        b"grant_type=authorization_code&code=".to_vec(),
        vec![b'&'; 10_000],
        junk(1, 512),
        junk(2, 4096),
        junk(3, 20_000),
        Vec::new(),
    ];
    let content_types = [
        "application/x-www-form-urlencoded",
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "",
    ];
    let post_paths = [
        "/token",
        "/introspect",
        "/revoke",
        "/authorize",
        "/login",
        "/consent",
        "/userinfo",
        "/logout",
        "/admin/users",
        "/admin/clients",
        "/admin/keys/rotate",
    ];
    let mut sent = 0;
    for path in post_paths {
        for body in &form_bodies {
            for ct in content_types {
                let mut req = app
                    .http
                    .post(format!("{}{path}", app.address))
                    .body(body.clone());
                if !ct.is_empty() {
                    req = req.header("content-type", ct);
                }
                let res = req.send().await.unwrap();
                assert!(
                    res.status().as_u16() < 500,
                    "POST {path} ({ct}, {} bytes): {}",
                    body.len(),
                    res.status()
                );
                sent += 1;
            }
        }
    }
    let queries = [
        "response_type=code&response_type=code".to_owned(),
        "client_id=%zz".to_owned(),
        "client_id=web&redirect_uri=%FF".to_owned(),
        format!("client_id={}", "x".repeat(20_000)),
        "request=%".to_owned(),
        String::from_utf8_lossy(&junk(4, 300)).replace(['#', ' ', '\n', '\r'], ""),
    ];
    for path in [
        "/authorize",
        "/authorize/continue",
        "/login",
        "/consent",
        "/logout",
        "/userinfo",
        "/.well-known/jwks.json",
        "/admin/keys",
        "/nope",
    ] {
        for q in &queries {
            let url = format!("{}{path}?{}", app.address, q);
            let Ok(res) = app.http.get(&url).send().await else {
                continue;
            };
            assert!(
                res.status().as_u16() < 500,
                "GET {path}?{q:.40}: {}",
                res.status()
            );
            sent += 1;
        }
    }
    for auth in [
        "Basic",
        "Basic !!!!",
        "Bearer",
        "Bearer a.b",
        "Basic Og==",
        "Negotiate xyz",
    ] {
        for path in ["/token", "/userinfo", "/admin/keys", "/introspect"] {
            let res = app
                .http
                .post(format!("{}{path}", app.address))
                .header("authorization", auth)
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap();
            assert!(
                res.status().as_u16() < 500,
                "{path} with {auth}: {}",
                res.status()
            );
            sent += 1;
        }
    }
    assert!(sent > 700, "{sent} requests");
    // Every bad request to /token was an RFC 6749 JSON error.
    let res = app
        .http
        .post(format!("{}/token", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=%zz")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );

    // The server still answers correctly.
    let tokens = app
        .password_tokens(("web", &web), ("alice", PASSWORD), "openid")
        .await;
    assert!(app
        .verify_access_token(tokens["access_token"].as_str().unwrap(), "api")
        .await
        .is_ok());
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let ResourceSetup { app, web, .. } = resource_setup().await;
    let get = |path: &str| app.http.get(format!("{}{path}", app.address)).send();
    let res = get("/healthz").await.unwrap();
    assert_eq!(res.status(), 200);
    let res = get("/readyz").await.unwrap();
    assert_eq!(res.status(), 200);
    let ready: Value = res.json().await.unwrap();
    assert_eq!(
        (ready["database"].as_bool(), ready["keys"].as_bool()),
        (Some(true), Some(true))
    );
    app.password_tokens(("web", &web), ("alice", PASSWORD), "openid")
        .await;
    let res = get("/token").await.unwrap();
    assert!(res.headers().contains_key("x-request-id"));
    let res = app
        .http
        .get(format!("{}/healthz", app.address))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["x-request-id"],
        "trace-me-42",
        "a caller's request id is kept"
    );

    let text = get("/metrics").await.unwrap().text().await.unwrap();
    assert!(
        text.contains("portcullis_tokens_issued_total{grant=\"password\",alg=\"RS256\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "portcullis_http_requests_total{route=\"/token\",method=\"POST\",status=\"200\"} 1"
        ),
        "{text}"
    );
    assert!(text
        .contains("portcullis_http_request_duration_seconds_bucket{route=\"/token\",le=\"+Inf\"}"));
    assert!(text.contains("portcullis_signing_key_age_seconds{alg=\"ES256\""));
    assert!(text.contains("portcullis_refresh_token_reuse_detected_total 0"));
}
