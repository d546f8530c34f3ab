//! Token revocation (RFC 7009): a refresh token takes its family with it,
//! an access token is denied by its `jti` until it expires.

use serde_json::Value;

use crate::helpers::tokens::TokenResponse;
use crate::helpers::{resource_setup, ResourceSetup, PASSWORD};

#[tokio::test]
async fn revocation_kills_refresh_families_and_access_tokens() {
    let ResourceSetup {
        app,
        web,
        api,
        other,
    } = resource_setup().await;
    let tokens = app
        .password_token_pair(("web", &web), ("alice", PASSWORD), "openid")
        .await;
    let (at, rt) = (tokens.access_token.as_str(), tokens.refresh());
    let second = app
        .post_token(
            &[("grant_type", "refresh_token"), ("refresh_token", rt)],
            Some(("web", &web)),
        )
        .await;
    let second = TokenResponse::read(second).await;
    let rt2 = second.refresh();

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
    assert_eq!(app.get_with_bearer("/userinfo", at).await.status(), 200);
    let res = app
        .post_form(
            "/revoke",
            &[("token", at), ("token_type_hint", "access_token")],
            Some(("web", &web)),
        )
        .await;
    assert_eq!(res.status(), 200);
    let info = app.introspect(at, ("api", &api)).await;
    assert_eq!(info["active"], false);
    assert_eq!(app.get_with_bearer("/userinfo", at).await.status(), 401);
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
