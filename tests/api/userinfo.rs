//! Claims: the userinfo endpoint, and the `claims` request parameter that
//! adds claims to the ID token and to userinfo beyond what the scope gives.

use openidconnect::PkceCodeChallenge;
use serde_json::Value;

use crate::helpers::browser::{exchange, login_through, query_param, sso_setup, Browser, CALLBACK};
use crate::helpers::tokens::TokenResponse;
use crate::helpers::{unverified_claims, ClientSpec, PASSWORD};

#[tokio::test]
async fn userinfo_answers_get_and_both_post_forms_and_refuses_bad_tokens() {
    let (app, _, _) = sso_setup().await;
    let secret = app.create_client(ClientSpec::named("pw")).await.unwrap();
    let tokens = app
        .password_token_pair(("pw", &secret), ("alice", PASSWORD), "openid email")
        .await;
    let at = tokens.access_token.as_str();
    let url = format!("{}/userinfo", app.address);

    let get: Value = app
        .get_with_bearer("/userinfo", at)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(get["email"], "user@example.com");
    assert!(get.get("preferred_username").is_none(), "no profile scope");
    let post: Value = app
        .http
        .post(&url)
        .bearer_auth(at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(post, get);
    let body: Value = app
        .http
        .post(&url)
        .form(&[("access_token", at)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body, get);

    let res = app.http.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers()["www-authenticate"],
        "Bearer realm=\"portcullis\""
    );
    let res = app.get_with_bearer("/userinfo", "not.a.token").await;
    assert_eq!(res.status(), 401);
    assert!(res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("error=\"invalid_token\""));
    let no_openid = app
        .password_token_pair(("pw", &secret), ("alice", PASSWORD), "email")
        .await;
    let res = app
        .get_with_bearer("/userinfo", &no_openid.access_token)
        .await;
    assert_eq!(res.status(), 403);
    assert!(res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("insufficient_scope"));
    let res = app
        .http
        .post(&url)
        .bearer_auth(at)
        .form(&[("access_token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "one token, one place");
    // An ID token is not an access token.
    let res = app.get_with_bearer("/userinfo", tokens.id()).await;
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn the_claims_parameter_adds_claims_beyond_the_scope() {
    let (app, secret, _) = sso_setup().await;
    let claims = r#"{"id_token":{"email":{"essential":true}},"userinfo":{"name":null}}"#;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut url = reqwest::Url::parse(&format!("{}/authorize", app.address)).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "web")
        .append_pair("redirect_uri", CALLBACK)
        .append_pair("scope", "openid")
        .append_pair("claims", claims)
        .append_pair("acr_values", "urn:mace:incommon:iap:silver")
        .append_pair("ui_locales", "fr-CA en")
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256");
    let callback = login_through(&Browser::new(), url.as_str(), "alice", PASSWORD).await;
    let code = query_param(&callback, "code").unwrap();
    let res = exchange(&app, ("web", &secret), &code, CALLBACK, verifier.secret()).await;
    let tokens = TokenResponse::read(res).await;
    let id = unverified_claims(tokens.id());
    assert_eq!(id["email"], "user@example.com");
    assert!(
        id.get("name").is_none(),
        "name was asked of userinfo, not of the ID token"
    );
    let info: Value = app
        .get_with_bearer("/userinfo", &tokens.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["name"], "Test User");
}
