//! RFC 6749 §5.2 error responses of the token endpoint.

use portcullis::oauth::clients::GrantType;
use serde_json::Value;

use crate::helpers::{spawn_app, ClientSpec, TestApp, PASSWORD};

async fn expect_error(
    res: reqwest::Response,
    status: u16,
    error: &str,
) -> reqwest::header::HeaderMap {
    assert_eq!(res.status().as_u16(), status);
    let headers = res.headers().clone();
    assert_eq!(headers["cache-control"], "no-store");
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    headers
}

async fn setup() -> (TestApp, String) {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD).await;
    let secret = app.create_client(ClientSpec::default()).await.unwrap();
    (app, secret)
}

const GOOD: &[(&str, &str)] = &[
    ("grant_type", "password"),
    ("username", "alice"),
    ("password", PASSWORD),
];

#[tokio::test]
async fn client_authentication_failures_are_invalid_client() {
    let (app, secret) = setup().await;

    // Basic with a wrong secret: 401 with a Basic challenge.
    let h = expect_error(
        app.post_token(GOOD, Some(("app", "wrong-secret"))).await,
        401,
        "invalid_client",
    )
    .await;
    assert!(h["www-authenticate"].to_str().unwrap().starts_with("Basic"));
    // Unknown client, same answer.
    let h = expect_error(
        app.post_token(GOOD, Some(("nobody", &secret))).await,
        401,
        "invalid_client",
    )
    .await;
    assert!(h.contains_key("www-authenticate"));
    // client_secret_post with a wrong secret.
    let mut form = GOOD.to_vec();
    form.extend([("client_id", "app"), ("client_secret", "wrong")]);
    expect_error(app.post_token(&form, None).await, 401, "invalid_client").await;
    // A confidential client presenting no secret at all.
    let mut form = GOOD.to_vec();
    form.push(("client_id", "app"));
    expect_error(app.post_token(&form, None).await, 401, "invalid_client").await;
    // No client at all.
    expect_error(app.post_token(GOOD, None).await, 401, "invalid_client").await;
    // A malformed Authorization header.
    let res = app
        .http
        .post(format!("{}/token", app.address))
        .header("authorization", "Basic %%%")
        .form(GOOD)
        .send()
        .await
        .unwrap();
    expect_error(res, 401, "invalid_client").await;
    // Two authentication methods at once.
    let mut form = GOOD.to_vec();
    form.push(("client_secret", &secret));
    expect_error(
        app.post_token(&form, Some(("app", &secret))).await,
        400,
        "invalid_request",
    )
    .await;
}

#[tokio::test]
async fn bad_credentials_and_unknown_users_are_invalid_grant_alike() {
    let (app, secret) = setup().await;
    let wrong = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", "wrong password"),
    ];
    let res = app.post_token(&wrong, Some(("app", &secret))).await;
    let body_wrong: Value = {
        assert_eq!(res.status(), 400);
        res.json().await.unwrap()
    };
    let unknown = [
        ("grant_type", "password"),
        ("username", "mallory"),
        ("password", "wrong password"),
    ];
    let res = app.post_token(&unknown, Some(("app", &secret))).await;
    assert_eq!(res.status(), 400);
    let body_unknown: Value = res.json().await.unwrap();
    assert_eq!(body_wrong["error"], "invalid_grant");
    assert_eq!(
        body_wrong, body_unknown,
        "no user enumeration through the error"
    );
    let garbage = [
        ("grant_type", "refresh_token"),
        ("refresh_token", "not-a-token"),
    ];
    expect_error(
        app.post_token(&garbage, Some(("app", &secret))).await,
        400,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn malformed_requests_are_invalid_request() {
    let (app, secret) = setup().await;
    let basic = Some(("app", secret.as_str()));
    expect_error(
        app.post_token(&[("username", "alice")], basic).await,
        400,
        "invalid_request",
    )
    .await;
    expect_error(
        app.post_token(&[("grant_type", "password"), ("username", "alice")], basic)
            .await,
        400,
        "invalid_request",
    )
    .await;
    expect_error(
        app.post_token(&[("grant_type", "refresh_token")], basic)
            .await,
        400,
        "invalid_request",
    )
    .await;
    let repeated = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("username", "bob"),
        ("password", "x"),
    ];
    expect_error(
        app.post_token(&repeated, basic).await,
        400,
        "invalid_request",
    )
    .await;

    let url = format!("{}/token", app.address);
    let res = app
        .http
        .post(&url)
        .basic_auth("app", Some(&secret))
        .json(&serde_json::json!({"grant_type": "password"}))
        .send()
        .await
        .unwrap();
    expect_error(res, 400, "invalid_request").await;
    let big = "a".repeat(64 * 1024);
    let res = app
        .http
        .post(&url)
        .basic_auth("app", Some(&secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=password&username={big}"))
        .send()
        .await
        .unwrap();
    expect_error(res, 400, "invalid_request").await;

    // The server still answers normally afterwards.
    assert_eq!(app.post_token(GOOD, basic).await.status(), 200);
}

#[tokio::test]
async fn grant_and_scope_errors() {
    let (app, secret) = setup().await;
    let basic = Some(("app", secret.as_str()));
    expect_error(
        app.post_token(
            &[(
                "grant_type",
                "urn:ietf:params:oauth:grant-type:saml2-bearer",
            )],
            basic,
        )
        .await,
        400,
        "unsupported_grant_type",
    )
    .await;
    expect_error(
        app.post_token(&[("grant_type", "client_credentials")], basic)
            .await,
        400,
        "unauthorized_client",
    )
    .await;
    let mut form = GOOD.to_vec();
    form.push(("scope", "openid admin"));
    expect_error(app.post_token(&form, basic).await, 400, "invalid_scope").await;

    let worker = app
        .create_client(ClientSpec {
            id: "worker",
            grants: &[GrantType::ClientCredentials],
            ..Default::default()
        })
        .await
        .unwrap();
    expect_error(
        app.post_token(GOOD, Some(("worker", &worker))).await,
        400,
        "unauthorized_client",
    )
    .await;

    // Without refresh_token in its grants, a client gets no refresh token and cannot refresh.
    let once = app
        .create_client(ClientSpec {
            id: "once",
            grants: &[GrantType::Password],
            ..Default::default()
        })
        .await
        .unwrap();
    let res = app.post_token(GOOD, Some(("once", &once))).await;
    assert_eq!(res.status(), 200);
    assert!(res
        .json::<Value>()
        .await
        .unwrap()
        .get("refresh_token")
        .is_none());
    expect_error(
        app.post_token(
            &[("grant_type", "refresh_token"), ("refresh_token", "x")],
            Some(("once", &once)),
        )
        .await,
        400,
        "unauthorized_client",
    )
    .await;
}
