//! Stored data Portcullis could not have written is a server error, logged,
//! never a wrong answer: not an empty scope, not an unknown grant quietly
//! dropped, not a "page expired".

use diesel::RunQueryDsl;
use portcullis::oauth::clients::GrantType;
use portcullis::store::StoreError;
use serde_json::Value;

use crate::helpers::{spawn_app, ClientSpec};

async fn corrupt(app: &crate::helpers::TestApp, sql: &'static str) {
    app.ctx
        .db
        .write(move |conn| {
            diesel::sql_query(sql)
                .execute(conn)
                .map_err(StoreError::from)
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_client_row_with_an_unknown_grant_type_is_a_server_error() {
    let app = spawn_app().await;
    let secret = app
        .create_client(ClientSpec {
            id: "svc",
            grants: &[GrantType::ClientCredentials],
            redirect_uris: &["https://app.example.com/cb"],
            ..Default::default()
        })
        .await
        .unwrap();
    corrupt(
        &app,
        "UPDATE clients SET grant_types = 'client_credentials implicit'",
    )
    .await;
    let res = app
        .post_token(
            &[("grant_type", "client_credentials")],
            Some(("svc", &secret)),
        )
        .await;
    assert_eq!(res.status(), 500);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "server_error");
    assert!(body.get("error_description").is_none(), "no detail leaks");

    // The same row behind a browser page: a 500 page, not "expired".
    let res = app
        .http
        .get(format!(
            "{}/authorize?client_id=svc&redirect_uri=https://app.example.com/cb&response_type=code",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    assert!(res.text().await.unwrap().contains("Something went wrong"));
}

#[tokio::test]
async fn a_refresh_token_with_a_malformed_scope_is_a_server_error_not_an_empty_scope() {
    let app = spawn_app().await;
    app.create_user("alice", crate::helpers::PASSWORD).await;
    let secret = app.create_client(ClientSpec::default()).await.unwrap();
    let tokens = app
        .password_tokens(
            ("app", &secret),
            ("alice", crate::helpers::PASSWORD),
            "openid",
        )
        .await;
    corrupt(&app, "UPDATE refresh_tokens SET scope = 'openid \"bad'").await;
    let res = app
        .post_token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
            Some(("app", &secret)),
        )
        .await;
    assert_eq!(res.status(), 500);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "server_error");
}
