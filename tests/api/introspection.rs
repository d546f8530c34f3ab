//! Token introspection (RFC 7662): live tokens are described to the
//! callers entitled to them; everything else is simply inactive.

use serde_json::Value;

use crate::helpers::tokens::TokenResponse;
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
        .password_token_pair(("web", &web), ("alice", PASSWORD), "openid api:read")
        .await;
    let (at, rt) = (tokens.access_token.as_str(), tokens.refresh());

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
        let info = app.introspect(token, caller).await;
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
    let info = app.introspect(rt, ("web", &web)).await;
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
    let secret = app.create_service_client("svc").await;
    let res = app
        .post_token(
            &[("grant_type", "client_credentials")],
            Some(("svc", &secret)),
        )
        .await;
    let at = TokenResponse::read(res).await.access_token;
    let info = app.introspect(&at, ("svc", &secret)).await;
    assert_eq!(info["active"], true);
    app.advance(2);
    let info = app.introspect(&at, ("svc", &secret)).await;
    assert_eq!(info["active"], false);
}
