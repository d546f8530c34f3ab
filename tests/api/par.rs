//! Pushed authorization requests (RFC 9126): the push at `/par` (client
//! authentication, validation, its JSON errors), the `request_uri` at
//! `/authorize` (once, by its client, before it expires, standing for every
//! other parameter), clients and servers that require pushed requests, and
//! a push at one replica used at another.

use openidconnect::PkceCodeChallenge;
use portcullis::oauth::clients::GrantType;
use serde_json::Value;

use crate::helpers::browser::{
    authorize_url, exchange, location, login_through, query_param, sso_setup, sso_setup_with,
    Browser, CALLBACK,
};
use crate::helpers::cluster::{provision, token, Cluster};
use crate::helpers::dpop::DpopKey;
use crate::helpers::tokens::TokenResponse;
use crate::helpers::{error_of, unverified_claims, AppOptions, ClientSpec, TestApp, PASSWORD};

const PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// An authorization request for `client_id` (to [`CALLBACK`], scope
/// `openid`, state `st4te`, nonce `pushed-n0nce`, PKCE S256) with `extra`
/// parameters, as a push form; and the PKCE verifier.
fn request_form(client_id: &str, extra: &[(&str, &str)]) -> (Vec<(String, String)>, String) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut form: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", CALLBACK),
        ("scope", "openid"),
        ("state", "st4te"),
        ("nonce", "pushed-n0nce"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        match form.iter_mut().find(|(n, _)| n == k) {
            Some(pair) => pair.1 = v.to_string(),
            None => form.push((k.to_string(), v.to_string())),
        }
    }
    (form, verifier.secret().to_owned())
}

fn pairs(form: &[(String, String)]) -> Vec<(&str, &str)> {
    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// POSTs `form` to `/par`, with HTTP Basic if given.
async fn push_raw(
    app: &TestApp,
    form: &[(String, String)],
    basic: Option<(&str, &str)>,
) -> reqwest::Response {
    app.post_form("/par", &pairs(form), basic).await
}

/// A push that must succeed; returns the `request_uri`.
async fn push(app: &TestApp, form: &[(String, String)], basic: Option<(&str, &str)>) -> String {
    let res = push_raw(app, form, basic).await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body["request_uri"].as_str().unwrap().to_owned()
}

/// `/authorize` with only `client_id` and `request_uri` (RFC 9126 §4).
fn authorize_with(
    base: &str,
    client_id: &str,
    request_uri: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut url = reqwest::Url::parse(&format!("{base}/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("request_uri", request_uri);
    for (k, v) in extra {
        url.query_pairs_mut().append_pair(k, v);
    }
    url.to_string()
}

/// The answer to a request_uri that cannot be used: a 400 page, and no
/// redirect anywhere.
async fn assert_unusable_page(res: reqwest::Response) {
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
    let body = res.text().await.unwrap();
    assert!(body.contains("expired or was already used"), "{body}");
}

/// Signs alice in through the pushed request and redeems the code as `web`.
async fn code_through(
    app: &TestApp,
    secret: &str,
    request_uri: &str,
    verifier: &str,
) -> TokenResponse {
    let browser = Browser::new();
    let url = authorize_with(&app.address, "web", request_uri, &[]);
    let callback = login_through(&browser, &url, "alice", PASSWORD).await;
    assert!(callback.starts_with(CALLBACK), "{callback}");
    let code = query_param(&callback, "code").expect("a code");
    let res = exchange(app, ("web", secret), &code, CALLBACK, verifier).await;
    assert_eq!(res.status(), 200);
    TokenResponse::read(res).await
}

#[tokio::test]
async fn a_pushed_request_leads_through_the_login_page_to_a_code_and_tokens() {
    let (app, secret, _) = sso_setup().await;
    let (form, verifier) = request_form("web", &[]);
    let res = push_raw(&app, &form, Some(("web", &secret))).await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    let request_uri = body["request_uri"].as_str().unwrap();
    let random = request_uri
        .strip_prefix(PREFIX)
        .unwrap_or_else(|| panic!("RFC 9126 §2.2 prefix: {request_uri}"));
    assert_eq!(random.len(), 43, "256 bits, base64url: {request_uri}");
    assert_eq!(body["expires_in"], 60);

    let browser = Browser::new();
    let url = authorize_with(&app.address, "web", request_uri, &[]);
    let callback = login_through(&browser, &url, "alice", PASSWORD).await;
    assert!(callback.starts_with(CALLBACK), "{callback}");
    assert_eq!(query_param(&callback, "state").as_deref(), Some("st4te"));
    assert_eq!(
        query_param(&callback, "iss").as_deref(),
        Some(app.address.as_str())
    );
    let code = query_param(&callback, "code").expect("a code");
    let res = exchange(&app, ("web", &secret), &code, CALLBACK, &verifier).await;
    assert_eq!(res.status(), 200);
    let tokens = TokenResponse::read(res).await;
    assert_eq!(tokens.scope, "openid");
    assert_eq!(
        unverified_claims(tokens.id())["nonce"],
        "pushed-n0nce",
        "the nonce is the pushed one"
    );

    // The code is bound to the pushed code_challenge: another verifier fails.
    let (form, _) = request_form("web", &[]);
    let request_uri = push(&app, &form, Some(("web", &secret))).await;
    let url = authorize_with(&app.address, "web", &request_uri, &[]);
    let callback = location(&browser.get(&url).await);
    let code = query_param(&callback, "code").expect("signed in already: a code");
    let res = exchange(&app, ("web", &secret), &code, CALLBACK, &verifier).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".into()));
}

#[tokio::test]
async fn a_client_may_push_with_client_secret_post() {
    let (app, secret, _) = sso_setup().await;
    let (mut form, verifier) = request_form("web", &[]);
    form.push(("client_secret".into(), secret.clone()));
    let request_uri = push(&app, &form, None).await;
    let tokens = code_through(&app, &secret, &request_uri, &verifier).await;
    assert_eq!(tokens.scope, "openid");
}

#[tokio::test]
async fn a_request_uri_is_used_once() {
    let (app, secret, _) = sso_setup().await;
    let (form, verifier) = request_form("web", &[]);
    let request_uri = push(&app, &form, Some(("web", &secret))).await;
    code_through(&app, &secret, &request_uri, &verifier).await;
    let again = Browser::new()
        .get(&authorize_with(&app.address, "web", &request_uri, &[]))
        .await;
    assert_unusable_page(again).await;
}

#[tokio::test]
async fn a_request_uri_may_be_opened_again_until_its_code_is_issued() {
    // FAPI 2.0 test plan: "PAR ensure server accepts reused request_uri
    // before authentication completion" (a reloaded login page).
    let (app, secret, _) = sso_setup().await;
    let (form, verifier) = request_form("web", &[]);
    let request_uri = push(&app, &form, Some(("web", &secret))).await;
    let url = authorize_with(&app.address, "web", &request_uri, &[]);
    let first_tab = Browser::new();
    let login = location(&first_tab.get(&url).await);
    assert!(login.contains("/login?request="), "{login}");
    let second_tab = Browser::new();
    let tokens = code_through(&app, &secret, &request_uri, &verifier).await;
    assert_eq!(tokens.scope, "openid");
    // The code is issued: the request is spent, for a new visit and for the
    // login page the first tab still has open.
    assert_unusable_page(second_tab.get(&url).await).await;
    let html = first_tab.get(&login).await.text().await.unwrap();
    let res = first_tab
        .submit_login(&app.address, &html, "alice", PASSWORD)
        .await;
    let callback = location(&first_tab.get(&location(&res)).await);
    assert!(callback.starts_with(CALLBACK), "{callback}");
    assert_eq!(
        query_param(&callback, "error").as_deref(),
        Some("invalid_request")
    );
    assert!(query_param(&callback, "code").is_none());
}

#[tokio::test]
async fn another_clients_request_uri_is_refused_and_not_spent() {
    let (app, secret, _) = sso_setup().await;
    let (form, verifier) = request_form("web", &[]);
    let request_uri = push(&app, &form, Some(("web", &secret))).await;
    let browser = Browser::new();
    let res = browser
        .get(&authorize_with(&app.address, "other", &request_uri, &[]))
        .await;
    assert_unusable_page(res).await;
    // `take` matches the client too, so the attempt did not spend it.
    let tokens = code_through(&app, &secret, &request_uri, &verifier).await;
    assert_eq!(tokens.scope, "openid");
}

#[tokio::test]
async fn a_request_uri_expires_after_sixty_seconds() {
    let (app, secret, _) = sso_setup_with(AppOptions {
        manual_clock: true,
        ..Default::default()
    })
    .await;
    let (form, _) = request_form("web", &[]);
    let request_uri = push(&app, &form, Some(("web", &secret))).await;
    app.advance(61);
    let res = Browser::new()
        .get(&authorize_with(&app.address, "web", &request_uri, &[]))
        .await;
    assert_unusable_page(res).await;

    // Just before its end it is still good.
    let (form, _) = request_form("web", &[]);
    let request_uri = push(&app, &form, Some(("web", &secret))).await;
    app.advance(59);
    let res = Browser::new()
        .get(&authorize_with(&app.address, "web", &request_uri, &[]))
        .await;
    assert!(location(&res).contains("/login?request="));
}

#[tokio::test]
async fn front_channel_parameters_beside_a_request_uri_are_ignored() {
    let (app, secret, _) = sso_setup().await;
    let (form, verifier) = request_form("web", &[]);
    let request_uri = push(&app, &form, Some(("web", &secret))).await;
    let browser = Browser::new();
    let url = authorize_with(
        &app.address,
        "web",
        &request_uri,
        &[
            ("scope", "openid profile email"),
            ("state", "front"),
            ("nonce", "front-nonce"),
            ("response_type", "code"),
        ],
    );
    let callback = login_through(&browser, &url, "alice", PASSWORD).await;
    assert_eq!(query_param(&callback, "state").as_deref(), Some("st4te"));
    let code = query_param(&callback, "code").unwrap();
    let res = exchange(&app, ("web", &secret), &code, CALLBACK, &verifier).await;
    let tokens = TokenResponse::read(res).await;
    assert_eq!(tokens.scope, "openid");
    assert_eq!(unverified_claims(tokens.id())["nonce"], "pushed-n0nce");
}

#[tokio::test]
async fn a_push_the_authorization_endpoint_would_refuse_is_refused_as_json() {
    let (app, secret, _) = sso_setup().await;
    let web = Some(("web", secret.as_str()));
    for (extra, expected) in [
        (
            &[("redirect_uri", "http://127.0.0.1:9/elsewhere")][..],
            "invalid_request",
        ),
        (&[("scope", "openid admin")][..], "invalid_scope"),
        (
            &[("response_type", "token")][..],
            "unsupported_response_type",
        ),
        (
            &[("request_uri", "urn:ietf:params:oauth:request_uri:abc")][..],
            "invalid_request",
        ),
        (&[("client_id", "other")][..], "invalid_request"),
        (&[("code_challenge_method", "plain")][..], "invalid_request"),
    ] {
        let (form, _) = request_form("web", extra);
        let res = push_raw(&app, &form, web).await;
        assert_eq!(error_of(res).await, (400, expected.into()), "{extra:?}");
    }

    // Client authentication is required, and must be right.
    let (form, _) = request_form("web", &[]);
    let without_client_id: Vec<_> = form
        .iter()
        .filter(|(k, _)| k != "client_id")
        .cloned()
        .collect();
    let res = push_raw(&app, &without_client_id, None).await;
    assert_eq!(error_of(res).await, (401, "invalid_client".into()));
    let res = push_raw(&app, &form, Some(("web", "not-the-secret"))).await;
    assert_eq!(error_of(res).await, (401, "invalid_client".into()));
    // RFC 9126 §2: the server MUST authenticate a confidential client, so
    // `web` naming itself without its secret (auth method `none`) is refused.
    let res = push_raw(&app, &form, None).await;
    assert_eq!(error_of(res).await, (401, "invalid_client".into()));

    // A client without the code grant cannot push a code request.
    let script = app
        .create_client(ClientSpec {
            id: "script",
            redirect_uris: &[CALLBACK],
            ..Default::default()
        })
        .await
        .unwrap();
    let res = push_raw(
        &app,
        &request_form("script", &[]).0,
        Some(("script", &script)),
    )
    .await;
    assert_eq!(error_of(res).await, (400, "unauthorized_client".into()));
}

#[tokio::test]
async fn a_public_client_may_push_without_a_secret() {
    // RFC 9126 §2: public clients may push too; they authenticate with
    // `none` (their client_id alone), as at the token endpoint.
    let (app, _, _) = sso_setup().await;
    app.create_client(ClientSpec {
        id: "spa",
        public: true,
        grants: &[GrantType::AuthorizationCode],
        redirect_uris: &[CALLBACK],
        ..Default::default()
    })
    .await;
    let (form, verifier) = request_form("spa", &[]);
    let request_uri = push(&app, &form, None).await;
    let browser = Browser::new();
    let url = authorize_with(&app.address, "spa", &request_uri, &[]);
    let callback = login_through(&browser, &url, "alice", PASSWORD).await;
    let code = query_param(&callback, "code").expect("a code");
    let res = app
        .post_token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", &verifier),
                ("client_id", "spa"),
            ],
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    // …and the /authorize rules still hold for them: PKCE is required.
    let (form, _) = request_form("spa", &[]);
    let no_pkce: Vec<_> = form
        .into_iter()
        .filter(|(k, _)| !k.starts_with("code_challenge"))
        .collect();
    let res = push_raw(&app, &no_pkce, None).await;
    assert_eq!(error_of(res).await, (400, "invalid_request".into()));
}

/// The front-channel request of `client_id` is sent back to the client
/// with `invalid_request` and its state.
async fn assert_front_channel_refused(app: &TestApp, client_id: &str) {
    let (url, _) = authorize_url(app, client_id, CALLBACK, &[]);
    let to = location(&Browser::new().get(&url).await);
    assert!(to.starts_with(CALLBACK), "{to}");
    assert_eq!(
        query_param(&to, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(query_param(&to, "state").as_deref(), Some("st4te"));
    assert!(query_param(&to, "code").is_none());
}

#[tokio::test]
async fn a_client_that_requires_par_is_refused_in_the_front_channel() {
    let (app, _, _) = sso_setup().await;
    let secret = app
        .create_client(ClientSpec {
            id: "strict",
            grants: &[GrantType::AuthorizationCode],
            redirect_uris: &[CALLBACK],
            require_par: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_front_channel_refused(&app, "strict").await;

    let (form, verifier) = request_form("strict", &[]);
    let request_uri = push(&app, &form, Some(("strict", &secret))).await;
    let url = authorize_with(&app.address, "strict", &request_uri, &[]);
    let callback = login_through(&Browser::new(), &url, "alice", PASSWORD).await;
    let code = query_param(&callback, "code").expect("a code");
    let res = exchange(&app, ("strict", &secret), &code, CALLBACK, &verifier).await;
    assert_eq!(res.status(), 200);

    // Other clients are not affected.
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[]);
    assert!(location(&Browser::new().get(&url).await).contains("/login?request="));
}

async fn discovery(app: &TestApp) -> Value {
    app.http
        .get(format!("{}/.well-known/openid-configuration", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn discovery_names_the_par_endpoint_and_that_pushing_is_optional() {
    let (app, _, _) = sso_setup().await;
    let doc = discovery(&app).await;
    assert_eq!(
        doc["pushed_authorization_request_endpoint"],
        format!("{}/par", app.address)
    );
    assert_eq!(doc["require_pushed_authorization_requests"], false);
}

#[tokio::test]
async fn a_server_that_requires_par_refuses_every_front_channel_request() {
    let (app, secret, _) = sso_setup_with(AppOptions {
        extra: vec![("require_pushed_authorization_requests", "true".into())],
        ..Default::default()
    })
    .await;
    assert_eq!(
        discovery(&app).await["require_pushed_authorization_requests"],
        true
    );
    assert_front_channel_refused(&app, "web").await;
    let (form, verifier) = request_form("web", &[]);
    let request_uri = push(&app, &form, Some(("web", &secret))).await;
    code_through(&app, &secret, &request_uri, &verifier).await;
}

#[tokio::test]
async fn a_request_pushed_at_one_replica_is_used_at_another() {
    let mut cluster = Cluster::new(&[]);
    cluster.cli(&["migrate"], None);
    let secret = provision(&cluster);
    let (a, b) = (cluster.start_replica().await, cluster.start_replica().await);
    let (a, b) = (cluster.at(a).to_owned(), cluster.at(b).to_owned());
    let http = reqwest::Client::new();
    let (form, verifier) = request_form("app", &[]);
    let res = http
        .post(format!("{a}/par"))
        .basic_auth("app", Some(&secret))
        .form(&pairs(&form))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let request_uri = body["request_uri"].as_str().unwrap();

    // The browser comes to B; the pages name the issuer, which is B here.
    let browser = Browser::new();
    let at_b = |url: String| url.replace(&cluster.issuer, &b);
    let login_url = at_b(location(
        &browser
            .get(&authorize_with(&b, "app", request_uri, &[]))
            .await,
    ));
    assert!(login_url.contains("/login?request="), "{login_url}");
    let html = browser.get(&login_url).await.text().await.unwrap();
    let res = browser.submit_login(&b, &html, "alice", PASSWORD).await;
    let resume = at_b(location(&res));
    let callback = location(&browser.get(&resume).await);
    assert!(callback.starts_with(CALLBACK), "{callback}");
    let code = query_param(&callback, "code").expect("a code");

    let (status, tokens) = token(
        &http,
        &a,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", &verifier),
        ],
        ("app", &secret),
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], "openid");

    // Spent at B, it is spent at A too.
    let again = browser
        .get(&authorize_with(&a, "app", request_uri, &[]))
        .await;
    assert_unusable_page(again).await;
}

#[tokio::test]
async fn a_dpop_proof_at_the_push_binds_the_code_to_its_key() {
    // RFC 9449 §10.1: the code of a request pushed with a proof can only be
    // redeemed with a proof of the same key.
    let (app, secret, _) = sso_setup().await;
    let key = DpopKey::es256();
    let (form, verifier) = request_form("web", &[]);
    let proof = key.proof(
        "POST",
        &format!("{}/par", app.address),
        app.now(),
        None,
        None,
    );
    let res = app
        .http
        .post(format!("{}/par", app.address))
        .basic_auth("web", Some(&secret))
        .header("DPoP", proof)
        .form(&pairs(&form))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let request_uri = body["request_uri"].as_str().unwrap();
    let browser = Browser::new();
    let url = authorize_with(&app.address, "web", request_uri, &[]);
    let callback = login_through(&browser, &url, "alice", PASSWORD).await;
    let code = query_param(&callback, "code").expect("a code");

    let redeem = |proof: Option<String>| {
        let mut req = app
            .http
            .post(format!("{}/token", app.address))
            .basic_auth("web", Some(&secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", CALLBACK),
                ("code_verifier", verifier.as_str()),
            ]);
        if let Some(p) = proof {
            req = req.header("DPoP", p);
        }
        req.send()
    };
    let token_url = format!("{}/token", app.address);
    let other = DpopKey::es256().proof("POST", &token_url, app.now(), None, None);
    let (status, _) = error_of(redeem(Some(other)).await.unwrap()).await;
    assert_eq!(status, 400, "another key's proof");
    let (status, _) = error_of(redeem(None).await.unwrap()).await;
    assert_eq!(status, 400, "no proof");
    let proof = key.proof("POST", &token_url, app.now(), None, None);
    let res = redeem(Some(proof)).await.unwrap();
    assert_eq!(res.status(), 200);
    let tokens = TokenResponse::read(res).await;
    assert_eq!(tokens.token_type, "DPoP");
    assert_eq!(
        unverified_claims(&tokens.access_token)["cnf"]["jkt"],
        key.jkt.as_str()
    );
}

#[tokio::test]
async fn the_form_endpoints_answer_other_methods_with_405() {
    // FAPI 2.0 test plan: "PAR reject invalid HTTP verb".
    let app = crate::helpers::spawn_app().await;
    for path in [
        "/par",
        "/token",
        "/introspect",
        "/revoke",
        "/device_authorization",
    ] {
        let res = app
            .http
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 405, "GET {path}");
        assert_eq!(res.headers()["allow"], "POST");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request");
        let res = app
            .http
            .put(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 405, "PUT {path}");
    }
}
