//! DPoP (RFC 9449): proofs at the token endpoint, tokens bound to the
//! proof's key (`cnf.jkt`), and the resource side at userinfo and the admin
//! API. Proofs are built as a client builds them ([`DpopKey`]); each
//! refusal is a test of its own.

use reqwest::header::HeaderMap;
use serde_json::{json, Value};

use crate::helpers::browser::{authorize_url, location, login_through, query_param, Browser};
use crate::helpers::dpop::{ath, unsigned, DpopKey};
use crate::helpers::{spawn_app, spawn_app_with, AppOptions, ClientSpec, TestApp, PASSWORD};
use portcullis::oauth::clients::GrantType;

const USER: (&str, &str) = ("alice", PASSWORD);

/// POSTs to `/token` with Basic auth (when given) and these `DPoP` headers.
async fn token_request(
    app: &TestApp,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
    proofs: &[&str],
) -> reqwest::Response {
    let mut req = app.http.post(format!("{}/token", app.address)).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    for proof in proofs {
        req = req.header("DPoP", *proof);
    }
    req.send().await.unwrap()
}

/// A server with alice, a confidential client `app` (password, refresh)
/// and a service client `svc` (client credentials); their secrets.
async fn setup_with(options: AppOptions) -> (TestApp, String, String) {
    let app = spawn_app_with(options).await;
    app.create_user("alice", PASSWORD).await;
    let secret = app.create_client(ClientSpec::named("app")).await.unwrap();
    let svc = app.create_service_client("svc").await;
    (app, secret, svc)
}

async fn setup() -> (TestApp, String, String) {
    setup_with(AppOptions::default()).await
}

fn htu(app: &TestApp, path: &str) -> String {
    format!("{}{path}", app.address)
}

const CC: [(&str, &str); 1] = [("grant_type", "client_credentials")];

/// Asserts an OAuth JSON error with `status` and `error`, and no token.
async fn refused(res: reqwest::Response, status: u16, error: &str) -> HeaderMap {
    assert_eq!(res.status(), status);
    let headers = res.headers().clone();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    assert!(body.get("access_token").is_none());
    headers
}

/// A client-credentials request for `svc` with one proof.
async fn cc_with(app: &TestApp, svc: &str, proof: &str) -> reqwest::Response {
    token_request(app, &CC, Some(("svc", svc)), &[proof]).await
}

#[tokio::test]
async fn a_proof_binds_the_access_token_to_its_key() {
    let (app, _, svc) = setup().await;
    let key = DpopKey::es256();
    let proof = key.proof("POST", &htu(&app, "/token"), app.now(), None, None);
    let res = cc_with(&app, &svc, &proof).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("dpop-nonce").is_none(), "nonces are off");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    let token = body["access_token"].as_str().unwrap();
    // A resource server sees the binding with public keys only.
    let claims = app.verify_access_token(token, &app.address).await.unwrap();
    assert_eq!(claims["cnf"]["jkt"], key.jkt.as_str());
    let seen = app.introspect(token, ("svc", &svc)).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["token_type"], "DPoP");
    assert_eq!(seen["cnf"]["jkt"], key.jkt.as_str());
    // Without a proof the same client gets a plain bearer token.
    let res = token_request(&app, &CC, Some(("svc", &svc)), &[]).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    let claims = app
        .verify_access_token(body["access_token"].as_str().unwrap(), &app.address)
        .await
        .unwrap();
    assert!(claims.get("cnf").is_none());
}

#[tokio::test]
async fn a_replayed_proof_is_refused() {
    let (app, _, svc) = setup().await;
    let key = DpopKey::es256();
    let proof = key.proof("POST", &htu(&app, "/token"), app.now(), None, None);
    assert_eq!(cc_with(&app, &svc, &proof).await.status(), 200);
    refused(cc_with(&app, &svc, &proof).await, 400, "invalid_dpop_proof").await;
}

#[tokio::test]
async fn a_proof_for_another_method_is_refused() {
    let (app, _, svc) = setup().await;
    let proof = DpopKey::es256().proof("GET", &htu(&app, "/token"), app.now(), None, None);
    refused(cc_with(&app, &svc, &proof).await, 400, "invalid_dpop_proof").await;
}

#[tokio::test]
async fn a_proof_for_another_url_is_refused() {
    let (app, _, svc) = setup().await;
    let key = DpopKey::es256();
    for url in [
        htu(&app, "/userinfo"),
        "https://elsewhere.example/token".to_owned(),
    ] {
        let proof = key.proof("POST", &url, app.now(), None, None);
        refused(cc_with(&app, &svc, &proof).await, 400, "invalid_dpop_proof").await;
    }
    // RFC 9449 §4.3: the query and fragment are ignored, the scheme and
    // host compared without case.
    let upper = htu(&app, "/token?x=1#y").replace("http://", "HTTP://");
    let proof = key.proof("POST", &upper, app.now(), None, None);
    assert_eq!(cc_with(&app, &svc, &proof).await.status(), 200);
}

#[tokio::test]
async fn a_stale_or_future_proof_is_refused() {
    let (app, _, svc) = setup().await;
    let key = DpopKey::es256();
    // Well outside the window (+60 s / -300 s): a proof made one second
    // from its edge passed when the busy machine took a second to answer.
    for iat in [app.now() - 330, app.now() + 90] {
        let proof = key.proof("POST", &htu(&app, "/token"), iat, None, None);
        refused(cc_with(&app, &svc, &proof).await, 400, "invalid_dpop_proof").await;
    }
}

#[tokio::test]
async fn a_proof_without_the_dpop_jwt_type_is_refused() {
    let (app, _, svc) = setup().await;
    let key = DpopKey::es256();
    let claims = DpopKey::claims("POST", &htu(&app, "/token"), app.now());
    let proof = key.sign(&claims, &key.jwk, "JWT");
    refused(cc_with(&app, &svc, &proof).await, 400, "invalid_dpop_proof").await;
}

#[tokio::test]
async fn an_unsigned_proof_is_refused() {
    let (app, _, svc) = setup().await;
    let key = DpopKey::es256();
    let header = json!({"typ": "dpop+jwt", "alg": "none", "jwk": key.jwk});
    let proof = unsigned(
        &header,
        &DpopKey::claims("POST", &htu(&app, "/token"), app.now()),
    );
    refused(cc_with(&app, &svc, &proof).await, 400, "invalid_dpop_proof").await;
}

#[tokio::test]
async fn a_proof_with_a_symmetric_algorithm_is_refused() {
    let (app, _, svc) = setup().await;
    let claims = DpopKey::claims("POST", &htu(&app, "/token"), app.now());
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.typ = Some("dpop+jwt".into());
    header.jwk =
        Some(serde_json::from_value(json!({"kty": "oct", "k": "c2VjcmV0c2VjcmV0"})).unwrap());
    let proof = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"secretsecret"),
    )
    .unwrap();
    refused(cc_with(&app, &svc, &proof).await, 400, "invalid_dpop_proof").await;
}

#[tokio::test]
async fn a_proof_carrying_a_private_key_is_refused() {
    let (app, _, svc) = setup().await;
    let key = DpopKey::es256();
    let mut jwk = key.jwk.clone();
    jwk["d"] = json!("c2VjcmV0");
    let claims = DpopKey::claims("POST", &htu(&app, "/token"), app.now());
    // jsonwebtoken's Jwk would drop `d`; the header is written by hand.
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk});
    let signed = key.proof("POST", &htu(&app, "/token"), app.now(), None, None);
    let signature = signed.rsplit('.').next().unwrap();
    let forged = format!("{}{signature}", unsigned(&header, &claims));
    refused(
        cc_with(&app, &svc, &forged).await,
        400,
        "invalid_dpop_proof",
    )
    .await;
}

#[tokio::test]
async fn a_proof_signed_by_another_key_than_its_jwk_is_refused() {
    let (app, _, svc) = setup().await;
    let (signer, claimed) = (DpopKey::es256(), DpopKey::es256());
    let claims = DpopKey::claims("POST", &htu(&app, "/token"), app.now());
    let proof = signer.sign(&claims, &claimed.jwk, "dpop+jwt");
    refused(cc_with(&app, &svc, &proof).await, 400, "invalid_dpop_proof").await;
}

#[tokio::test]
async fn a_proof_without_a_jti_is_refused() {
    let (app, _, svc) = setup().await;
    let key = DpopKey::es256();
    let mut claims = DpopKey::claims("POST", &htu(&app, "/token"), app.now());
    claims.as_object_mut().unwrap().remove("jti");
    let proof = key.sign(&claims, &key.jwk, "dpop+jwt");
    refused(cc_with(&app, &svc, &proof).await, 400, "invalid_dpop_proof").await;
}

#[tokio::test]
async fn two_proofs_or_a_malformed_one_are_refused() {
    let (app, _, svc) = setup().await;
    let key = DpopKey::es256();
    let a = key.proof("POST", &htu(&app, "/token"), app.now(), None, None);
    let b = key.proof("POST", &htu(&app, "/token"), app.now(), None, None);
    let res = token_request(&app, &CC, Some(("svc", &svc)), &[&a, &b]).await;
    refused(res, 400, "invalid_dpop_proof").await;
    refused(
        cc_with(&app, &svc, "not-a-jwt").await,
        400,
        "invalid_dpop_proof",
    )
    .await;
}

#[tokio::test]
async fn a_client_that_requires_dpop_gets_no_bearer_token() {
    let app = spawn_app().await;
    let secret = app
        .create_client(ClientSpec {
            id: "bound",
            grants: &[GrantType::ClientCredentials],
            require_dpop: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let res = token_request(&app, &CC, Some(("bound", &secret)), &[]).await;
    refused(res, 400, "invalid_request").await;
    let proof = DpopKey::es256().proof("POST", &htu(&app, "/token"), app.now(), None, None);
    let res = token_request(&app, &CC, Some(("bound", &secret)), &[&proof]).await;
    assert_eq!(res.status(), 200);
}

/// A DPoP-bound password-grant token of `app` for alice, and its key.
async fn bound_user_token(app: &TestApp, secret: &str) -> (DpopKey, Value) {
    let key = DpopKey::es256();
    let proof = key.proof("POST", &htu(app, "/token"), app.now(), None, None);
    let form = [
        ("grant_type", "password"),
        ("username", USER.0),
        ("password", USER.1),
        ("scope", "openid profile"),
    ];
    let res = token_request(app, &form, Some(("app", secret)), &[&proof]).await;
    assert_eq!(res.status(), 200);
    (key, res.json().await.unwrap())
}

async fn userinfo(app: &TestApp, authorization: &str, proofs: &[&str]) -> reqwest::Response {
    let mut req = app
        .http
        .get(htu(app, "/userinfo"))
        .header("Authorization", authorization);
    for proof in proofs {
        req = req.header("DPoP", *proof);
    }
    req.send().await.unwrap()
}

/// The WWW-Authenticate values of a response.
fn challenges(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn userinfo_takes_a_bound_token_with_a_proof_of_its_key() {
    let (app, secret, _) = setup().await;
    let (key, tokens) = bound_user_token(&app, &secret).await;
    let token = tokens["access_token"].as_str().unwrap();
    let proof = key.proof("GET", &htu(&app, "/userinfo"), app.now(), Some(token), None);
    let res = userinfo(&app, &format!("DPoP {token}"), &[&proof]).await;
    assert_eq!(res.status(), 200);
    let claims: Value = res.json().await.unwrap();
    assert!(claims["sub"].is_string());
}

#[tokio::test]
async fn a_bound_token_presented_as_bearer_is_refused() {
    let (app, secret, _) = setup().await;
    let (_, tokens) = bound_user_token(&app, &secret).await;
    let token = tokens["access_token"].as_str().unwrap();
    let res = userinfo(&app, &format!("Bearer {token}"), &[]).await;
    assert_eq!(res.status(), 401);
    assert!(
        challenges(&res)[0].starts_with("Bearer"),
        "{:?}",
        challenges(&res)
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
}

#[tokio::test]
async fn a_resource_proof_without_ath_or_by_another_key_is_refused() {
    let (app, secret, _) = setup().await;
    let (key, tokens) = bound_user_token(&app, &secret).await;
    let token = tokens["access_token"].as_str().unwrap();
    let url = htu(&app, "/userinfo");
    let no_ath = key.proof("GET", &url, app.now(), None, None);
    let wrong_ath = key.proof("GET", &url, app.now(), Some("another token"), None);
    let other_key = DpopKey::es256().proof("GET", &url, app.now(), Some(token), None);
    for proof in [no_ath, wrong_ath, other_key] {
        let res = userinfo(&app, &format!("DPoP {token}"), &[&proof]).await;
        assert_eq!(res.status(), 401);
        let challenge = &challenges(&res)[0];
        assert!(challenge.starts_with("DPoP "), "{challenge}");
        assert!(
            challenge.contains(r#"error="invalid_dpop_proof""#),
            "{challenge}"
        );
        assert!(challenge.contains("algs=\""), "{challenge}");
    }
    // No proof at all with the DPoP scheme.
    let res = userinfo(&app, &format!("DPoP {token}"), &[]).await;
    assert_eq!(res.status(), 401);
    // The token itself is still good with a proper proof.
    let good = key.proof("GET", &url, app.now(), Some(token), None);
    assert_eq!(
        userinfo(&app, &format!("DPoP {token}"), &[&good])
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn an_unbound_token_presented_with_dpop_is_refused_and_a_bare_request_gets_both_challenges() {
    let (app, secret, _) = setup().await;
    let tokens = app.password_tokens(("app", &secret), USER, "openid").await;
    let token = tokens["access_token"].as_str().unwrap();
    let proof =
        DpopKey::es256().proof("GET", &htu(&app, "/userinfo"), app.now(), Some(token), None);
    let res = userinfo(&app, &format!("DPoP {token}"), &[&proof]).await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
    let res = app.http.get(htu(&app, "/userinfo")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let all = challenges(&res);
    assert!(all.iter().any(|c| c.starts_with("Bearer")), "{all:?}");
    assert!(
        all.iter()
            .any(|c| c.starts_with("DPoP algs=") && c.contains("ES256")),
        "{all:?}"
    );
}

#[tokio::test]
async fn server_nonces_are_asked_for_handed_out_and_expire() {
    let (app, _, svc) = setup_with(AppOptions {
        manual_clock: true,
        extra: vec![("dpop_nonce", "true".into())],
        ..Default::default()
    })
    .await;
    let key = DpopKey::es256();
    let url = htu(&app, "/token");
    let first = key.proof("POST", &url, app.now(), None, None);
    let headers = refused(cc_with(&app, &svc, &first).await, 400, "use_dpop_nonce").await;
    let nonce = headers["dpop-nonce"].to_str().unwrap().to_owned();
    let wrong = key.proof("POST", &url, app.now(), None, Some("bm90IG91cnM"));
    refused(cc_with(&app, &svc, &wrong).await, 400, "use_dpop_nonce").await;
    let with_nonce = key.proof("POST", &url, app.now(), None, Some(&nonce));
    let res = cc_with(&app, &svc, &with_nonce).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers().get("dpop-nonce").is_some(),
        "a fresh nonce comes along"
    );
    // A nonce is good for its own minute and the next, then refused.
    app.advance(121);
    let late = key.proof("POST", &url, app.now(), None, Some(&nonce));
    let headers = refused(cc_with(&app, &svc, &late).await, 400, "use_dpop_nonce").await;
    assert_ne!(headers["dpop-nonce"].to_str().unwrap(), nonce);
}

#[tokio::test]
async fn userinfo_asks_for_a_nonce_with_a_dpop_challenge() {
    let (app, secret, _) = setup_with(AppOptions {
        extra: vec![("dpop_nonce", "true".into())],
        ..Default::default()
    })
    .await;
    let key = DpopKey::es256();
    let url = htu(&app, "/token");
    let form = [
        ("grant_type", "password"),
        ("username", USER.0),
        ("password", USER.1),
        ("scope", "openid"),
    ];
    let res = token_request(
        &app,
        &form,
        Some(("app", &secret)),
        &[&key.proof("POST", &url, app.now(), None, None)],
    )
    .await;
    let nonce = res.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    let proof = key.proof("POST", &url, app.now(), None, Some(&nonce));
    let res = token_request(&app, &form, Some(("app", &secret)), &[&proof]).await;
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    let token = tokens["access_token"].as_str().unwrap();
    let proof = key.proof(
        "GET",
        &htu(&app, "/userinfo"),
        app.now(),
        Some(token),
        Some("c3RhbGU"),
    );
    let res = userinfo(&app, &format!("DPoP {token}"), &[&proof]).await;
    assert_eq!(res.status(), 401);
    assert!(challenges(&res)[0].contains(r#"error="use_dpop_nonce""#));
    let nonce = res.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    let proof = key.proof(
        "GET",
        &htu(&app, "/userinfo"),
        app.now(),
        Some(token),
        Some(&nonce),
    );
    assert_eq!(
        userinfo(&app, &format!("DPoP {token}"), &[&proof])
            .await
            .status(),
        200
    );
}

/// A public client `native` for the code flow, and a code for alice bound
/// by `dpop_jkt` to `key`: (app, code, verifier).
async fn bound_code(key: &DpopKey) -> (TestApp, String, String) {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD).await;
    app.create_client(ClientSpec {
        id: "native",
        public: true,
        grants: &[GrantType::AuthorizationCode, GrantType::RefreshToken],
        redirect_uris: &[CALLBACK],
        ..Default::default()
    })
    .await;
    let browser = Browser::new();
    let (url, verifier) = authorize_url(&app, "native", CALLBACK, &[("dpop_jkt", &key.jkt)]);
    let callback = login_through(&browser, &url, "alice", PASSWORD).await;
    let code = query_param(&callback, "code").expect("a code");
    (app, code, verifier)
}

const CALLBACK: &str = "http://127.0.0.1:9/native-callback";

fn code_form<'a>(code: &'a str, verifier: &'a str) -> [(&'a str, &'a str); 5] {
    [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", verifier),
        ("client_id", "native"),
    ]
}

#[tokio::test]
async fn a_code_bound_by_dpop_jkt_needs_a_proof_by_that_key() {
    let key = DpopKey::es256();
    let (app, code, verifier) = bound_code(&key).await;
    let other = DpopKey::es256().proof("POST", &htu(&app, "/token"), app.now(), None, None);
    let res = token_request(&app, &code_form(&code, &verifier), None, &[&other]).await;
    refused(res, 400, "invalid_grant").await;
}

#[tokio::test]
async fn a_code_bound_by_dpop_jkt_needs_a_proof() {
    let key = DpopKey::es256();
    let (app, code, verifier) = bound_code(&key).await;
    let res = token_request(&app, &code_form(&code, &verifier), None, &[]).await;
    refused(res, 400, "invalid_grant").await;
}

#[tokio::test]
async fn a_public_clients_refresh_tokens_are_bound_to_its_key() {
    let key = DpopKey::es256();
    let (app, code, verifier) = bound_code(&key).await;
    let url = htu(&app, "/token");
    let proof = key.proof("POST", &url, app.now(), None, None);
    let res = token_request(&app, &code_form(&code, &verifier), None, &[&proof]).await;
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    assert_eq!(tokens["token_type"], "DPoP");
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh),
        ("client_id", "native"),
    ];
    let other = DpopKey::es256().proof("POST", &url, app.now(), None, None);
    refused(
        token_request(&app, &form, None, &[&other]).await,
        400,
        "invalid_grant",
    )
    .await;
    refused(
        token_request(&app, &form, None, &[]).await,
        400,
        "invalid_grant",
    )
    .await;
    let proof = key.proof("POST", &url, app.now(), None, None);
    let res = token_request(&app, &form, None, &[&proof]).await;
    assert_eq!(res.status(), 200, "the refused attempts did not spend it");
    let next: Value = res.json().await.unwrap();
    assert_eq!(next["token_type"], "DPoP");
    let claims = app
        .verify_access_token(next["access_token"].as_str().unwrap(), &app.address)
        .await
        .unwrap();
    assert_eq!(claims["cnf"]["jkt"], key.jkt.as_str());
}

#[tokio::test]
async fn a_confidential_clients_refresh_tokens_are_not_bound() {
    let (app, secret, _) = setup().await;
    let (_, tokens) = bound_user_token(&app, &secret).await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    // RFC 9449 §5: bound by the client's authentication instead; a new key
    // is the client's to choose.
    let other = DpopKey::es256();
    let proof = other.proof("POST", &htu(&app, "/token"), app.now(), None, None);
    let res = token_request(&app, &form, Some(("app", &secret)), &[&proof]).await;
    assert_eq!(res.status(), 200);
    let next: Value = res.json().await.unwrap();
    let claims = app
        .verify_access_token(next["access_token"].as_str().unwrap(), &app.address)
        .await
        .unwrap();
    assert_eq!(claims["cnf"]["jkt"], other.jkt.as_str());
}

#[tokio::test]
async fn a_malformed_dpop_jkt_is_refused_at_authorize() {
    let app = spawn_app().await;
    app.create_client(ClientSpec {
        id: "native",
        public: true,
        grants: &[GrantType::AuthorizationCode],
        redirect_uris: &[CALLBACK],
        ..Default::default()
    })
    .await;
    let (url, _) = authorize_url(&app, "native", CALLBACK, &[("dpop_jkt", "short")]);
    let callback = location(&Browser::new().get(&url).await);
    assert_eq!(
        query_param(&callback, "error").as_deref(),
        Some("invalid_request")
    );
}

#[tokio::test]
async fn the_admin_api_takes_dpop_bound_tokens() {
    let app = spawn_app().await;
    let secret = app
        .create_client(ClientSpec {
            id: "ops",
            grants: &[GrantType::ClientCredentials],
            scope: "portcullis:admin",
            ..Default::default()
        })
        .await
        .unwrap();
    let key = DpopKey::es256();
    let proof = key.proof("POST", &htu(&app, "/token"), app.now(), None, None);
    let form = [
        ("grant_type", "client_credentials"),
        ("scope", "portcullis:admin"),
    ];
    let res = token_request(&app, &form, Some(("ops", &secret)), &[&proof]).await;
    let tokens: Value = res.json().await.unwrap();
    let token = tokens["access_token"].as_str().unwrap();
    let url = htu(&app, "/admin/clients");
    let list = |proof: Option<String>, scheme: &'static str| {
        let mut req = app
            .http
            .get(&url)
            .header("Authorization", format!("{scheme} {token}"));
        if let Some(p) = proof {
            req = req.header("DPoP", p);
        }
        req.send()
    };
    let proof = key.proof("GET", &url, app.now(), Some(token), None);
    assert_eq!(list(Some(proof), "DPoP").await.unwrap().status(), 200);
    assert_eq!(list(None, "Bearer").await.unwrap().status(), 401);
    let wrong_method = key.proof("POST", &url, app.now(), Some(token), None);
    assert_eq!(
        list(Some(wrong_method), "DPoP").await.unwrap().status(),
        401
    );
    assert_eq!(ath(token).len(), 43);
}

#[tokio::test]
async fn discovery_lists_the_dpop_algorithms() {
    let app = spawn_app().await;
    let doc: Value = app
        .http
        .get(htu(&app, "/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let algs = doc["dpop_signing_alg_values_supported"].as_array().unwrap();
    assert!(algs.contains(&json!("ES256")) && algs.contains(&json!("EdDSA")));
    assert!(!algs.contains(&json!("HS256")) && !algs.contains(&json!("none")));
}

#[tokio::test]
async fn a_proof_used_at_one_replica_is_refused_at_another() {
    use crate::helpers::cluster::{provision, Cluster};
    let mut cluster = Cluster::new(&[]);
    cluster.cli(&["migrate"], None);
    let secret = provision(&cluster);
    let (a, b) = (cluster.start_replica().await, cluster.start_replica().await);
    let http = reqwest::Client::new();
    let key = DpopKey::es256();
    // Replicas share the issuer, so a proof's htu names the issuer's URL.
    let htu = format!("{}/token", cluster.issuer);
    let now = chrono::Utc::now().timestamp();
    let proof = key.proof("POST", &htu, now, None, None);
    let form = [
        ("grant_type", "password"),
        ("username", USER.0),
        ("password", USER.1),
        ("scope", "openid"),
    ];
    let send = |at: String| {
        http.post(format!("{at}/token"))
            .basic_auth("app", Some(&secret))
            .header("DPoP", &proof)
            .form(&form)
            .send()
    };
    let first = send(cluster.at(a).to_owned()).await.unwrap();
    assert_eq!(first.status(), 200);
    let again = send(cluster.at(b).to_owned()).await.unwrap();
    assert_eq!(again.status(), 400);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["error"], "invalid_dpop_proof");
}

#[tokio::test]
async fn a_proof_ten_seconds_early_or_late_is_accepted() {
    // FAPI 2.0 test plan: DPoP proofs with iat 10 s before and after.
    let (app, _, svc) = setup().await;
    let key = DpopKey::es256();
    for iat in [app.now() - 10, app.now() + 10] {
        let proof = key.proof("POST", &htu(&app, "/token"), iat, None, None);
        assert_eq!(cc_with(&app, &svc, &proof).await.status(), 200, "iat {iat}");
    }
}

#[tokio::test]
async fn a_push_whose_dpop_jkt_is_not_its_proofs_key_is_refused() {
    // FAPI 2.0 test plan: "ensure mismatched dpop_jkt fails" (RFC 9449 §10.1).
    let (app, secret, _) = crate::helpers::browser::sso_setup().await;
    let (named, prover) = (DpopKey::es256(), DpopKey::es256());
    let proof = prover.proof("POST", &htu(&app, "/par"), app.now(), None, None);
    let res = app
        .http
        .post(htu(&app, "/par"))
        .basic_auth("web", Some(&secret))
        .header("DPoP", proof)
        .form(&[
            ("response_type", "code"),
            ("redirect_uri", crate::helpers::browser::CALLBACK),
            ("scope", "openid"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
            ("dpop_jkt", named.jkt.as_str()),
        ])
        .send()
        .await
        .unwrap();
    refused(res, 400, "invalid_dpop_proof").await;
}

#[tokio::test]
async fn a_dynamically_registered_client_may_require_dpop() {
    // RFC 9449 §5.2's `dpop_bound_access_tokens` (and RFC 9126 §6's
    // `require_pushed_authorization_requests`) as registration metadata.
    let app = spawn_app_with(AppOptions {
        extra: vec![("registration", "open".into())],
        ..Default::default()
    })
    .await;
    let res = app
        .http
        .post(htu(&app, "/register"))
        .json(&json!({
            "redirect_uris": ["https://app.example/cb"],
            "dpop_bound_access_tokens": true,
            "require_pushed_authorization_requests": true,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let client: Value = res.json().await.unwrap();
    assert_eq!(client["dpop_bound_access_tokens"], true);
    assert_eq!(client["require_pushed_authorization_requests"], true);
    let res = app
        .http
        .post(htu(&app, "/register"))
        .json(&json!({"redirect_uris": ["https://app.example/cb"], "dpop_bound_access_tokens": "yes"}))
        .send()
        .await
        .unwrap();
    refused(res, 400, "invalid_client_metadata").await;
    // Its front-channel requests are refused: PAR only.
    let id = client["client_id"].as_str().unwrap();
    let (url, _) = authorize_url(&app, id, "https://app.example/cb", &[]);
    let callback = location(&Browser::new().get(&url).await);
    assert_eq!(
        query_param(&callback, "error").as_deref(),
        Some("invalid_request")
    );
}
