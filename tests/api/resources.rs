//! Resource indicators (RFC 8707): `resource` at /authorize and /token for
//! every grant; the access token's `aud` is what was asked for, within what
//! the client registered and the grant covered.

use portcullis::oauth::clients::GrantType;

use crate::helpers::browser::{
    authorize_url, exchange, login_through, query_param, Browser, CALLBACK,
};
use crate::helpers::tokens::TokenResponse;
use crate::helpers::{error_of, spawn_app, unverified_claims, ClientSpec, TestApp, PASSWORD};

const LEDGER: &str = "https://ledger.example/api";
const BILLING: &str = "https://billing.example";
const ELSEWHERE: &str = "https://elsewhere.example";

async fn app_with_resources() -> (TestApp, String) {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD).await;
    let secret = app
        .create_client(ClientSpec {
            id: "web",
            grants: &[
                GrantType::AuthorizationCode,
                GrantType::Password,
                GrantType::RefreshToken,
                GrantType::ClientCredentials,
            ],
            redirect_uris: &[CALLBACK],
            resources: &[LEDGER, BILLING],
            audience: Some("default-api"),
            ..Default::default()
        })
        .await
        .unwrap();
    (app, secret)
}

#[tokio::test]
async fn the_access_token_is_for_the_resources_asked_for() {
    let (app, secret) = app_with_resources().await;
    let client = ("web", secret.as_str());
    let grant = |resources: &'static [&'static str]| {
        let mut form = vec![
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", PASSWORD),
        ];
        form.extend(resources.iter().map(|r| ("resource", *r)));
        form
    };
    // None asked: the client's registered audience.
    let res = app.post_token(&grant(&[]), Some(client)).await;
    let tokens = TokenResponse::read(res).await;
    assert_eq!(
        unverified_claims(&tokens.access_token)["aud"],
        "default-api"
    );
    // One: a string, verifiable by a resource server for that audience.
    let tokens = TokenResponse::read(app.post_token(&grant(&[LEDGER]), Some(client)).await).await;
    let claims = app
        .verify_access_token(&tokens.access_token, LEDGER)
        .await
        .unwrap();
    assert_eq!(claims["aud"], LEDGER);
    // Two: an array.
    let res = app
        .post_token(&grant(&[LEDGER, BILLING]), Some(client))
        .await;
    let tokens = TokenResponse::read(res).await;
    assert_eq!(
        unverified_claims(&tokens.access_token)["aud"],
        serde_json::json!([LEDGER, BILLING])
    );
    // Client credentials too.
    let res = app
        .post_token(
            &[("grant_type", "client_credentials"), ("resource", BILLING)],
            Some(client),
        )
        .await;
    let tokens = TokenResponse::read(res).await;
    assert_eq!(unverified_claims(&tokens.access_token)["aud"], BILLING);
}

#[tokio::test]
async fn unregistered_or_malformed_resources_are_invalid_target() {
    let (app, secret) = app_with_resources().await;
    let client = ("web", secret.as_str());
    for resource in [ELSEWHERE, "/relative", "https://ledger.example/api#frag"] {
        let res = app
            .post_token(
                &[
                    ("grant_type", "password"),
                    ("username", "alice"),
                    ("password", PASSWORD),
                    ("resource", resource),
                ],
                Some(client),
            )
            .await;
        assert_eq!(
            error_of(res).await,
            (400, "invalid_target".into()),
            "{resource}"
        );
    }
    let res = app
        .post_token(
            &[
                ("grant_type", "client_credentials"),
                ("resource", ELSEWHERE),
            ],
            Some(client),
        )
        .await;
    assert_eq!(error_of(res).await, (400, "invalid_target".into()));
}

#[tokio::test]
async fn a_refresh_narrows_within_its_family_and_a_wrong_resource_costs_nothing() {
    let (app, secret) = app_with_resources().await;
    let client = ("web", secret.as_str());
    let res = app
        .post_token(
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", PASSWORD),
                ("resource", LEDGER),
                ("resource", BILLING),
            ],
            Some(client),
        )
        .await;
    let first = TokenResponse::read(res).await;
    // Outside the family (registered for the client, but not granted).
    let mut refresh_token = first.refresh().to_owned();
    let res = app
        .post_token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh_token),
                ("resource", ELSEWHERE),
            ],
            Some(client),
        )
        .await;
    assert_eq!(error_of(res).await, (400, "invalid_target".into()));
    // The refused request did not spend the token: it narrows to one resource.
    let res = app
        .post_token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh_token),
                ("resource", BILLING),
            ],
            Some(client),
        )
        .await;
    let narrowed = TokenResponse::read(res).await;
    assert_eq!(unverified_claims(&narrowed.access_token)["aud"], BILLING);
    // And the next refresh, naming none, is for the whole family again.
    refresh_token = narrowed.refresh().to_owned();
    let res = app
        .post_token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh_token),
            ],
            Some(client),
        )
        .await;
    let again = TokenResponse::read(res).await;
    assert_eq!(
        unverified_claims(&again.access_token)["aud"],
        serde_json::json!([LEDGER, BILLING])
    );
}

#[tokio::test]
async fn the_code_flow_carries_its_resource_to_the_token() {
    let (app, secret) = app_with_resources().await;
    let browser = Browser::new();
    let (url, verifier) = authorize_url(&app, "web", CALLBACK, &[("resource", LEDGER)]);
    let callback = login_through(&browser, &url, "alice", PASSWORD).await;
    let code = query_param(&callback, "code").expect("a code");
    // Asking at the token endpoint for a resource the code was not for
    // fails, and leaves the code usable.
    let res = app
        .post_token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", &verifier),
                ("resource", BILLING),
            ],
            Some(("web", &secret)),
        )
        .await;
    assert_eq!(error_of(res).await, (400, "invalid_target".into()));
    let res = exchange(&app, ("web", &secret), &code, CALLBACK, &verifier).await;
    let tokens = TokenResponse::read(res).await;
    assert_eq!(unverified_claims(&tokens.access_token)["aud"], LEDGER);
    // The refresh family is bound to it.
    let res = app
        .post_token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens.refresh()),
                ("resource", BILLING),
            ],
            Some(("web", &secret)),
        )
        .await;
    assert_eq!(error_of(res).await, (400, "invalid_target".into()));
}

#[tokio::test]
async fn an_authorization_request_for_an_unregistered_resource_goes_back_as_invalid_target() {
    let (app, _) = app_with_resources().await;
    let browser = Browser::new();
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[("resource", ELSEWHERE)]);
    let res = browser.get(&url).await;
    let location = crate::helpers::browser::location(&res);
    assert!(location.starts_with(CALLBACK), "{location}");
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("invalid_target")
    );
    assert_eq!(query_param(&location, "state").as_deref(), Some("st4te"));
}
