//! Malformed, oversized and junk requests to every endpoint get clean 4xx
//! answers, and the server stays healthy.

use serde_json::Value;

use crate::helpers::{resource_setup, ResourceSetup, PASSWORD};

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
        .password_token_pair(("web", &web), ("alice", PASSWORD), "openid")
        .await;
    assert!(app
        .verify_access_token(&tokens.access_token, "api")
        .await
        .is_ok());
}
