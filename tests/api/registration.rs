//! Dynamic client registration (RFC 7591) and management (RFC 7592): the
//! modes, initial access tokens, metadata rules, the whole life of a
//! registered client through an `openidconnect` relying party, and the
//! limits.

use futures::future::join_all;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, TokenResponse as _,
};
use portcullis::oauth::clients::GrantType;
use portcullis::oauth::registration::initial_tokens;
use serde_json::{json, Value};

use crate::helpers::browser::{
    authorize_url, hidden, location, login_through, query_param, Browser, CALLBACK,
};
use crate::helpers::tokens::TokenResponse;
use crate::helpers::{spawn_app, spawn_app_with, AppOptions, ClientSpec, TestApp, PASSWORD};

const NEW_CALLBACK: &str = "http://127.0.0.1:9/new-callback";

fn with_registration(mode: &str) -> AppOptions {
    AppOptions {
        extra: vec![("registration", mode.into())],
        ..Default::default()
    }
}

async fn register(app: &TestApp, body: &Value, token: Option<&str>) -> reqwest::Response {
    let mut req = app
        .http
        .post(format!("{}/register", app.address))
        .json(body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.expect("POST /register sent")
}

/// A body a registration with no token needs: a web app of the code flow.
fn web_app() -> Value {
    json!({"redirect_uris": [CALLBACK], "client_name": "Web app"})
}

/// Mints an initial access token as an operator would.
async fn initial_token(app: &TestApp, expires_in: Option<i64>, uses: Option<i64>) -> String {
    let now = app.now();
    app.ctx
        .db
        .write(move |conn| initial_tokens::create(conn, expires_in, uses, "test", now))
        .await
        .expect("token minted")
        .token
}

/// The status and `error` of a refusal, and that it is JSON that must not be cached.
async fn refusal(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    assert_eq!(
        res.headers()["cache-control"].to_str().unwrap(),
        "no-store",
        "status {status}"
    );
    let body: Value = res.json().await.expect("a JSON error");
    assert!(body["error_description"].is_string(), "{body}");
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

/// A 401 `invalid_token` with RFC 6750's challenge.
async fn assert_invalid_token(res: reqwest::Response, what: &str) {
    let challenge = res
        .headers()
        .get("www-authenticate")
        .unwrap_or_else(|| panic!("{what}: no challenge"))
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with("Bearer") && challenge.contains(r#"error="invalid_token""#),
        "{what}: {challenge}"
    );
    assert_eq!(refusal(res).await, (401, "invalid_token".into()), "{what}");
}

async fn manage(
    app: &TestApp,
    method: reqwest::Method,
    client_id: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> reqwest::Response {
    let mut req = app
        .http
        .request(method, format!("{}/register/{client_id}", app.address));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(body);
    }
    req.send().await.expect("request sent")
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
async fn registration_is_off_by_default_and_then_not_found() {
    let app = spawn_app().await;
    assert_eq!(register(&app, &web_app(), None).await.status(), 404);
    for method in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let res = manage(&app, method.clone(), "anyone", Some("x"), Some(&json!({}))).await;
        assert_eq!(res.status(), 404, "{method}");
    }
    assert!(discovery(&app).await.get("registration_endpoint").is_none());

    let open = spawn_app_with(with_registration("open")).await;
    assert_eq!(
        discovery(&open).await["registration_endpoint"],
        format!("{}/register", open.address)
    );
}

#[tokio::test]
async fn token_mode_admits_only_a_live_initial_access_token() {
    let app = spawn_app_with(AppOptions {
        manual_clock: true,
        ..with_registration("token")
    })
    .await;
    assert_invalid_token(register(&app, &web_app(), None).await, "no token").await;
    assert_invalid_token(
        register(&app, &web_app(), Some("not-a-token")).await,
        "unknown token",
    )
    .await;
    let res = app
        .http
        .post(format!("{}/register", app.address))
        .header("authorization", "Basic d2ViOnNlY3JldA==")
        .json(&web_app())
        .send()
        .await
        .unwrap();
    assert_invalid_token(res, "not a bearer token").await;

    // One use: bad metadata does not spend it, the first registration does.
    let once = initial_token(&app, None, Some(1)).await;
    let res = register(
        &app,
        &json!({"redirect_uris": ["http://example.com/cb"]}),
        Some(&once),
    )
    .await;
    assert_eq!(refusal(res).await, (400, "invalid_redirect_uri".into()));
    assert_eq!(register(&app, &web_app(), Some(&once)).await.status(), 201);
    assert_invalid_token(register(&app, &web_app(), Some(&once)).await, "used up").await;

    // An expiring token works until its time, then never again.
    let expiring = initial_token(&app, Some(60), None).await;
    assert_eq!(
        register(&app, &web_app(), Some(&expiring)).await.status(),
        201
    );
    assert_eq!(
        register(&app, &web_app(), Some(&expiring)).await.status(),
        201
    );
    app.advance(60);
    assert_invalid_token(register(&app, &web_app(), Some(&expiring)).await, "expired").await;

    // With a token, client credentials may be registered; the password grant never.
    let operator = initial_token(&app, None, None).await;
    let service = json!({"grant_types": ["client_credentials"], "scope": "openid"});
    let res = register(&app, &service, Some(&operator)).await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["grant_types"], json!(["client_credentials"]));
    assert_eq!(body["response_types"], json!([]));
    let password = json!({"grant_types": ["password"], "response_types": []});
    let res = register(&app, &password, Some(&operator)).await;
    assert_eq!(refusal(res).await, (400, "invalid_client_metadata".into()));
}

#[tokio::test]
async fn the_cli_and_the_admin_api_mint_initial_access_tokens() {
    let app = spawn_app_with(with_registration("token")).await;
    let out = app.cli(
        &[
            "client",
            "registration-token",
            "create",
            "--expires",
            "24h",
            "--uses",
            "1",
            "--json",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let minted: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(minted["uses"], 1);
    let lifetime = minted["expires_at"].as_i64().unwrap() - app.now();
    assert!((86_390..=86_400).contains(&lifetime), "{lifetime}");
    let cli_token = minted["token"].as_str().unwrap().to_owned();
    assert!(cli_token.len() >= 43, "256 bits");
    let res = register(&app, &web_app(), Some(&cli_token)).await;
    assert_eq!(res.status(), 201);
    assert_invalid_token(
        register(&app, &web_app(), Some(&cli_token)).await,
        "used up",
    )
    .await;
    let out = app.cli(
        &["client", "registration-token", "create", "--uses", "0"],
        None,
    );
    assert!(!out.status.success(), "zero uses is refused");

    let secret = app
        .create_client(ClientSpec {
            id: "ops",
            grants: &[GrantType::ClientCredentials],
            scope: "portcullis:admin",
            ..Default::default()
        })
        .await
        .unwrap();
    let res = app
        .post_token(
            &[
                ("grant_type", "client_credentials"),
                ("scope", "portcullis:admin"),
            ],
            Some(("ops", &secret)),
        )
        .await;
    let admin = TokenResponse::read(res).await.access_token;
    let url = format!("{}/admin/registration-tokens", app.address);
    let res = app
        .http
        .post(&url)
        .json(&json!({"uses": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "an admin token is needed");
    let res = app
        .http
        .post(&url)
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{\"uses\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "a malformed body is not \"no limits\"");
    let res = app
        .http
        .post(&url)
        .bearer_auth(&admin)
        .json(&json!({"uses": 2, "expires_in": 3600}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let minted: Value = res.json().await.unwrap();
    let id = minted["id"].as_str().unwrap().to_owned();
    let token = minted["token"].as_str().unwrap();
    let res = register(&app, &web_app(), Some(token)).await;
    assert_eq!(res.status(), 201);
    let client_id = res.json::<Value>().await.unwrap()["client_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The audit trail names who minted and who registered, never a token.
    let events = app
        .ctx
        .db
        .run(|conn| portcullis::store::audit::list_since(conn, 0, 1000))
        .await
        .unwrap();
    assert!(events
        .iter()
        .any(|e| e.action == "registration_token.created"
            && e.actor == "admin:ops"
            && e.subject == id));
    assert!(events.iter().any(|e| e.action == "client.created"
        && e.actor == format!("registration:{id}")
        && e.subject == client_id));
    for e in &events {
        let line = format!("{} {} {}", e.actor, e.subject, e.detail);
        assert!(
            !line.contains(token) && !line.contains(&cli_token),
            "{line}"
        );
    }
}

#[tokio::test]
async fn open_registration_refuses_bad_metadata_with_its_code() {
    // More requests than the default limit allows in a minute.
    let mut options = with_registration("open");
    options.extra.push(("registration_rate_limit", "0".into()));
    let app = spawn_app_with(options).await;
    let cb = json!([CALLBACK]);
    let cases = [
        (
            json!({"grant_types": ["password"], "response_types": []}),
            "invalid_client_metadata",
        ),
        (
            json!({"grant_types": ["client_credentials"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": cb, "grant_types": ["authorization_code", "client_credentials"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["http://app.example.com/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://app.example.com/cb#frag"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"client_name": "no redirect URI"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": cb, "post_logout_redirect_uris": ["javascript:alert(1)"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": cb, "response_types": ["token"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": cb, "grant_types": ["refresh_token"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": cb, "token_endpoint_auth_method": "client_secret_jwt"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": cb, "scope": "openid portcullis:admin"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": cb, "logo_uri": "http://example.com/logo.png"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": cb, "tos_uri": "not a url"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": cb, "jwks": {"keys": "none"}}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": cb, "jwks": {"keys": []}, "jwks_uri": "https://example.com/jwks.json"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": cb, "jwks_uri": "http://example.com/jwks.json"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": cb, "contacts": "ops@example.com"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": cb, "software_statement": "eyJhbGciOiJSUzI1NiJ9.e30.sig"}),
            "invalid_software_statement",
        ),
        (json!([CALLBACK]), "invalid_client_metadata"),
    ];
    for (body, expected) in cases {
        let res = register(&app, &body, None).await;
        assert_eq!(refusal(res).await, (400, expected.to_owned()), "{body}");
    }

    let post = |content_type: &'static str, body: Vec<u8>| {
        app.http
            .post(format!("{}/register", app.address))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let res = post("application/json", b"{\"redirect_uris\": [".to_vec())
        .await
        .unwrap();
    assert_eq!(refusal(res).await, (400, "invalid_client_metadata".into()));
    let res = post("application/json", vec![0xff, 0xfe]).await.unwrap();
    assert_eq!(refusal(res).await, (400, "invalid_client_metadata".into()));
    let res = post("application/json", "[".repeat(10_000).into_bytes())
        .await
        .unwrap();
    assert_eq!(refusal(res).await, (400, "invalid_client_metadata".into()));
    let res = post(
        "application/x-www-form-urlencoded",
        b"redirect_uris=x".to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(refusal(res).await, (400, "invalid_request".into()));
    let mut huge = serde_json::to_vec(&web_app()).unwrap();
    huge.pop();
    huge.extend(format!(", \"x\": \"{}\"}}", "a".repeat(70 * 1024)).into_bytes());
    let res = post("application/json", huge).await.unwrap();
    assert_eq!(refusal(res).await, (400, "invalid_request".into()));

    // Unknown fields are ignored (§2), and so is an Authorization header.
    let res = app
        .http
        .post(format!("{}/register", app.address))
        .bearer_auth("whatever")
        .json(&json!({"redirect_uris": [CALLBACK], "frobnicate": true, "client_name#fr": "Appli"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert!(res
        .json::<Value>()
        .await
        .unwrap()
        .get("frobnicate")
        .is_none());
}

#[tokio::test]
async fn a_registered_client_logs_in_then_updates_and_deletes_itself() {
    let app = spawn_app_with(with_registration("open")).await;
    app.create_user("alice", PASSWORD).await;
    let res = register(
        &app,
        &json!({
            "redirect_uris": [CALLBACK],
            "grant_types": ["authorization_code", "refresh_token"],
            "client_name": "Partner app",
            "scope": "openid profile email",
            "logo_uri": "https://partner.example.com/logo.png",
            "contacts": ["ops@partner.example.com"],
            "software_id": "partner-app",
            "id_token_signed_response_alg": "EdDSA",
        }),
        None,
    )
    .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let registered: Value = res.json().await.unwrap();
    let client_id = registered["client_id"].as_str().unwrap().to_owned();
    let secret = registered["client_secret"].as_str().unwrap().to_owned();
    let first_token = registered["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(client_id.len() >= 22 && secret.len() >= 43 && first_token.len() >= 43);
    assert!((registered["client_id_issued_at"].as_i64().unwrap() - app.now()).abs() <= 5);
    assert_eq!(registered["client_secret_expires_at"], 0);
    assert_eq!(
        registered["registration_client_uri"],
        format!("{}/register/{client_id}", app.address)
    );
    assert_eq!(
        registered["token_endpoint_auth_method"],
        "client_secret_basic"
    );
    assert_eq!(registered["response_types"], json!(["code"]));
    assert_eq!(registered["client_name"], "Partner app");
    assert_eq!(registered["contacts"], json!(["ops@partner.example.com"]));
    assert_eq!(registered["software_id"], "partner-app");
    assert_eq!(registered["id_token_signed_response_alg"], "EdDSA");

    // An openidconnect relying party logs in with it; a third party, so
    // the user consents first.
    let provider = CoreProviderMetadata::discover_async(
        IssuerUrl::new(app.address.clone()).unwrap(),
        &app.http,
    )
    .await
    .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        provider,
        ClientId::new(client_id.clone()),
        Some(ClientSecret::new(secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(openidconnect::Scope::new("profile".into()))
        .add_scope(openidconnect::Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let browser = Browser::new();
    let consent_url = login_through(&browser, url.as_str(), "alice", PASSWORD).await;
    assert!(consent_url.contains("/consent?request="), "{consent_url}");
    let html = browser.get(&consent_url).await.text().await.unwrap();
    assert!(
        html.contains("Partner app"),
        "the consent page names the client"
    );
    let allow = browser
        .post(
            &format!("{}/consent", app.address),
            &[
                ("request", hidden(&html, "request").as_str()),
                ("csrf_token", hidden(&html, "csrf_token").as_str()),
                ("decision", "allow"),
            ],
        )
        .await;
    let callback = location(&allow);
    assert!(callback.starts_with(CALLBACK), "{callback}");
    assert_eq!(
        query_param(&callback, "state").as_deref(),
        Some(state.secret().as_str())
    );
    let tokens = client
        .exchange_code(AuthorizationCode::new(
            query_param(&callback, "code").unwrap(),
        ))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&app.http)
        .await
        .expect("code exchange with the registered client");
    // Signed as registered: EdDSA (Ed25519), which the relying party must
    // allow (openidconnect allows RS256 alone by default); at_hash is the
    // left half of SHA-512 for Ed25519.
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = client
        .id_token_verifier()
        .set_allowed_algs(vec![CoreJwsSigningAlgorithm::EdDsa]);
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("the ID token verifies");
    assert_eq!(claims.audiences()[0].as_str(), client_id);
    assert_eq!(
        id_token.signing_alg().unwrap(),
        &CoreJwsSigningAlgorithm::EdDsa
    );
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected_hash));
    let access = tokens.access_token().secret();
    assert_eq!(
        jsonwebtoken::decode_header(access).unwrap().alg,
        jsonwebtoken::Algorithm::EdDSA
    );
    app.verify_access_token(access, &app.address)
        .await
        .expect("the access token verifies with the JWKS");
    let refresh = tokens
        .refresh_token()
        .expect("a refresh token")
        .secret()
        .clone();

    // Read: the metadata, never the secret.
    let res = manage(
        &app,
        reqwest::Method::GET,
        &client_id,
        Some(&first_token),
        None,
    )
    .await;
    assert_eq!(res.status(), 200);
    let current: Value = res.json().await.unwrap();
    assert!(current.get("client_secret").is_none());
    assert!(current.get("registration_access_token").is_none());
    assert_eq!(current["redirect_uris"], json!([CALLBACK]));
    assert_eq!(current["logo_uri"], "https://partner.example.com/logo.png");
    assert_invalid_token(
        manage(&app, reqwest::Method::GET, &client_id, None, None).await,
        "no token",
    )
    .await;
    assert_invalid_token(
        manage(&app, reqwest::Method::GET, &client_id, Some(&secret), None).await,
        "the client secret is no registration token",
    )
    .await;

    // The signing algorithm stays: an update cannot change it.
    assert_eq!(current["id_token_signed_response_alg"], "EdDSA");
    let mut other_alg = current.clone();
    other_alg["id_token_signed_response_alg"] = json!("RS256");
    let res = manage(
        &app,
        reqwest::Method::PUT,
        &client_id,
        Some(&first_token),
        Some(&other_alg),
    )
    .await;
    assert_eq!(refusal(res).await, (400, "invalid_client_metadata".into()));

    // Update: new redirect URIs; the token rotates, the secret stays.
    let mut changed = current.clone();
    changed["redirect_uris"] = json!([NEW_CALLBACK]);
    changed["client_secret"] = json!(secret);
    let res = manage(
        &app,
        reqwest::Method::PUT,
        &client_id,
        Some(&first_token),
        Some(&changed),
    )
    .await;
    assert_eq!(res.status(), 200);
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["redirect_uris"], json!([NEW_CALLBACK]));
    assert_eq!(updated["client_name"], "Partner app");
    let second_token = updated["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(second_token, first_token);
    assert_invalid_token(
        manage(
            &app,
            reqwest::Method::GET,
            &client_id,
            Some(&first_token),
            None,
        )
        .await,
        "the rotated token",
    )
    .await;
    let res = manage(
        &app,
        reqwest::Method::GET,
        &client_id,
        Some(&second_token),
        None,
    )
    .await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["redirect_uris"],
        json!([NEW_CALLBACK])
    );
    // /authorize sees the change at once: the old URI is refused with a
    // page, the new one gets a code (consent is remembered).
    let (old, _) = authorize_url(&app, &client_id, CALLBACK, &[]);
    let res = browser.get(&old).await;
    assert_eq!(
        res.status(),
        400,
        "the old redirect URI is no longer registered"
    );
    let (new, _) = authorize_url(&app, &client_id, NEW_CALLBACK, &[]);
    let callback = location(&browser.get(&new).await);
    assert!(
        callback.starts_with(NEW_CALLBACK) && callback.contains("code="),
        "{callback}"
    );
    let res = app
        .post_token(
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            Some((&client_id, &secret)),
        )
        .await;
    assert_eq!(res.status(), 200, "the secret survived the update");
    let refresh = TokenResponse::read(res).await.refresh().to_owned();

    // Delete: the client is gone, and so are its tokens.
    let res = manage(
        &app,
        reqwest::Method::DELETE,
        &client_id,
        Some(&second_token),
        None,
    )
    .await;
    assert_eq!(res.status(), 204);
    let res = app
        .post_token(
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            Some((&client_id, &secret)),
        )
        .await;
    assert_eq!(refusal(res).await, (401, "invalid_client".into()));
    assert_invalid_token(
        manage(
            &app,
            reqwest::Method::GET,
            &client_id,
            Some(&second_token),
            None,
        )
        .await,
        "a deleted client",
    )
    .await;

    let events = app
        .ctx
        .db
        .run(|conn| portcullis::store::audit::list_since(conn, 0, 1000))
        .await
        .unwrap();
    let by = |action: &str| {
        events
            .iter()
            .find(|e| e.action == action && e.subject == client_id)
            .map(|e| e.actor.clone())
    };
    assert_eq!(
        by("client.created").as_deref(),
        Some("registration:127.0.0.1")
    );
    let own = format!("client:{client_id}");
    assert_eq!(by("client.updated"), Some(own.clone()));
    assert_eq!(by("client.removed"), Some(own));
}

#[tokio::test]
async fn a_registration_token_manages_its_own_client_only() {
    let app = spawn_app_with(with_registration("open")).await;
    app.create_client(ClientSpec::named("web")).await;
    let a: Value = register(&app, &web_app(), None).await.json().await.unwrap();
    let b: Value = register(&app, &web_app(), None).await.json().await.unwrap();
    let (a_id, a_token) = (
        a["client_id"].as_str().unwrap(),
        a["registration_access_token"].as_str().unwrap(),
    );
    let b_id = b["client_id"].as_str().unwrap();
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        for target in [b_id, "web", "nobody"] {
            let res = manage(&app, method.clone(), target, Some(a_token), None).await;
            assert_invalid_token(res, &format!("{method} {target} with A's token")).await;
        }
    }
    let res = manage(&app, reqwest::Method::PUT, b_id, Some(a_token), Some(&a)).await;
    assert_invalid_token(res, "PUT B with A's token").await;

    let put = reqwest::Method::PUT;
    let mut body = web_app();
    let res = manage(&app, put.clone(), a_id, Some(a_token), Some(&body)).await;
    assert_eq!(
        refusal(res).await,
        (400, "invalid_request".into()),
        "no client_id"
    );
    body["client_id"] = json!(b_id);
    let res = manage(&app, put.clone(), a_id, Some(a_token), Some(&body)).await;
    assert_eq!(
        refusal(res).await,
        (400, "invalid_request".into()),
        "another client_id"
    );
    body["client_id"] = json!(a_id);
    body["client_secret"] = b["client_secret"].clone();
    let res = manage(&app, put.clone(), a_id, Some(a_token), Some(&body)).await;
    assert_eq!(
        refusal(res).await,
        (400, "invalid_request".into()),
        "another secret"
    );
    body["client_secret"] = a["client_secret"].clone();
    body["token_endpoint_auth_method"] = json!("none");
    let res = manage(&app, put.clone(), a_id, Some(a_token), Some(&body)).await;
    assert_eq!(
        refusal(res).await,
        (400, "invalid_client_metadata".into()),
        "turning public"
    );
    body["token_endpoint_auth_method"] = json!("client_secret_post");
    body["redirect_uris"] = json!(["http://example.com/cb"]);
    let res = manage(&app, put.clone(), a_id, Some(a_token), Some(&body)).await;
    assert_eq!(refusal(res).await, (400, "invalid_redirect_uri".into()));
    // Refused updates change nothing, the token included.
    let res = manage(&app, reqwest::Method::GET, a_id, Some(a_token), None).await;
    let current: Value = res.json().await.unwrap();
    assert_eq!(current["redirect_uris"], json!([CALLBACK]));
    assert_eq!(current["token_endpoint_auth_method"], "client_secret_basic");
    body["redirect_uris"] = json!([CALLBACK]);
    body.as_object_mut().unwrap().remove("client_name");
    let res = manage(&app, put, a_id, Some(a_token), Some(&body)).await;
    assert_eq!(res.status(), 200);
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["token_endpoint_auth_method"], "client_secret_post");
    assert!(
        updated.get("client_name").is_none(),
        "omitted fields are deleted"
    );
}

#[tokio::test]
async fn concurrent_registrations_spend_each_use_of_a_token_once() {
    let app = spawn_app_with(with_registration("token")).await;
    let once = initial_token(&app, None, Some(1)).await;
    let body = web_app();
    let (first, second) = tokio::join!(
        register(&app, &body, Some(&once)),
        register(&app, &body, Some(&once))
    );
    let mut statuses = [first.status().as_u16(), second.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [201, 401]);

    let thrice = initial_token(&app, None, Some(3)).await;
    let answers = join_all((0..10).map(|_| register(&app, &body, Some(&thrice)))).await;
    let created = answers.iter().filter(|r| r.status() == 201).count();
    let refused = answers.iter().filter(|r| r.status() == 401).count();
    assert_eq!((created, refused), (3, 7));
}

#[tokio::test]
async fn registrations_are_limited_per_address_unless_the_limit_is_zero() {
    let app = spawn_app_with(AppOptions {
        manual_clock: true,
        extra: vec![
            ("registration", "open".into()),
            ("registration_rate_limit", "2".into()),
        ],
        ..Default::default()
    })
    .await;
    assert_eq!(register(&app, &web_app(), None).await.status(), 201);
    let res = register(&app, &json!({"redirect_uris": ["bad"]}), None).await;
    assert_eq!(res.status(), 400, "a refused registration counts too");
    let res = register(&app, &web_app(), None).await;
    assert_eq!(res.status(), 429);
    let wait: i64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(refusal(res).await, (429, "temporarily_unavailable".into()));
    app.advance(60);
    assert_eq!(register(&app, &web_app(), None).await.status(), 201);

    let unlimited = spawn_app_with(AppOptions {
        extra: vec![
            ("registration", "open".into()),
            ("registration_rate_limit", "0".into()),
        ],
        ..Default::default()
    })
    .await;
    for n in 0..25 {
        assert_eq!(
            register(&unlimited, &web_app(), None).await.status(),
            201,
            "registration {n}"
        );
    }
}

#[tokio::test]
async fn registered_clients_are_listed_as_dynamic() {
    let app = spawn_app_with(with_registration("open")).await;
    app.create_client(ClientSpec::named("static")).await;
    let registered: Value = register(&app, &web_app(), None).await.json().await.unwrap();
    let id = registered["client_id"].as_str().unwrap();
    let out = app.cli(&["client", "list", "--json"], None);
    assert!(out.status.success());
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let dynamic = |client_id: &str| {
        list.iter()
            .find(|c| c["client_id"] == client_id)
            .map(|c| c["dynamic"].clone())
    };
    assert_eq!(dynamic(id), Some(json!(true)));
    assert_eq!(dynamic("static"), Some(json!(false)));
    let consent = list.iter().find(|c| c["client_id"] == id).unwrap()["consent"].clone();
    assert_eq!(consent, json!(true), "a dynamic client is a third party");

    let out = app.cli(&["client", "list"], None);
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(table.lines().next().unwrap().contains("DYNAMIC"), "{table}");
    let row = |client_id: &str| {
        table
            .lines()
            .find(|l| l.starts_with(client_id))
            .unwrap_or_else(|| panic!("{client_id} in {table}"))
            .split_whitespace()
            .nth(4)
            .map(str::to_owned)
    };
    assert_eq!(row(id).as_deref(), Some("yes"));
    assert_eq!(row("static").as_deref(), Some("no"));
}
