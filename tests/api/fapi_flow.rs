//! The FAPI 2.0 Security Profile flow end to end, as a certified client
//! runs it: PAR with `private_key_jwt` → `/authorize` with the
//! `request_uri` through a browser → a code bound by `dpop_jkt` → tokens
//! with DPoP → userinfo with DPoP → refresh with DPoP. Every token is
//! checked with the server's public keys only.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use openidconnect::PkceCodeChallenge;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;
use portcullis::keys::SigningAlg;
use portcullis::oauth::clients::{self, GrantType, NewClient, Profile};
use serde_json::{json, Value};

use crate::helpers::browser::{location, query_param, Browser};
use crate::helpers::dpop::DpopKey;
use crate::helpers::{spawn_app_with, AppOptions, TestApp, PASSWORD};

const REDIRECT: &str = "https://bank.example/cb";

/// The client's signing key for its assertions, and its public JWK Set.
struct ClientKey {
    encoding: EncodingKey,
    kid: String,
    jwks: Value,
}

impl ClientKey {
    fn es256() -> Self {
        let key = p256::SecretKey::random(&mut rand_core::OsRng);
        let point = key.public_key().to_encoded_point(false);
        let x = URL_SAFE_NO_PAD.encode(point.x().unwrap());
        let y = URL_SAFE_NO_PAD.encode(point.y().unwrap());
        let kid = "bank-key-1".to_owned();
        ClientKey {
            encoding: EncodingKey::from_ec_der(key.to_pkcs8_der().unwrap().as_bytes()),
            jwks: json!({"keys": [{"kty": "EC", "crv": "P-256", "x": x, "y": y,
                                    "kid": kid, "use": "sig", "alg": "ES256"}]}),
            kid,
        }
    }

    /// RFC 7523 §3 / FAPI 2.0: `aud` is the issuer identifier alone.
    fn assertion(&self, client_id: &str, issuer: &str, now: i64) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        let claims = json!({
            "iss": client_id, "sub": client_id, "aud": issuer,
            "iat": now, "exp": now + 60, "jti": portcullis::secrets::random_token(16),
        });
        jsonwebtoken::encode(&header, &claims, &self.encoding).unwrap()
    }
}

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

async fn setup() -> (TestApp, ClientKey) {
    setup_with(AppOptions::default()).await
}

async fn setup_with(options: AppOptions) -> (TestApp, ClientKey) {
    let app = spawn_app_with(options).await;
    app.create_user("alice", PASSWORD).await;
    let key = ClientKey::es256();
    let new = NewClient {
        client_id: "bank".into(),
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        redirect_uris: vec![REDIRECT.into()],
        signing_alg: SigningAlg::Ps256,
        profile: Some(Profile::Fapi2),
        jwks: Some(key.jwks.clone()),
        ..NewClient::default()
    };
    let now = app.now();
    app.ctx
        .db
        .write(move |conn| {
            clients::register(conn, new, Default::default(), "test", now)
                .map(|_| ())
                .map_err(|e| portcullis::store::StoreError::Corrupt(e.to_string()))
        })
        .await
        .expect("a FAPI 2.0 client registers");
    (app, key)
}

/// POSTs `form` to `path` with one DPoP proof, when given.
async fn post(
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
    proof: Option<&str>,
) -> reqwest::Response {
    let mut req = app.http.post(format!("{}{path}", app.address)).form(form);
    if let Some(p) = proof {
        req = req.header("DPoP", p);
    }
    req.send().await.unwrap()
}

/// Checks an access or ID token with the JWKS only; its claims.
async fn verified(app: &TestApp, token: &str, typ: &str, audience: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(
        header.alg,
        Algorithm::PS256,
        "FAPI clients' tokens are PS256"
    );
    assert_eq!(header.typ.as_deref(), Some(typ));
    let jwks = app.jwks().await;
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("kid in the JWKS");
    let mut validation = jsonwebtoken::Validation::new(Algorithm::PS256);
    validation.set_issuer(&[&app.address]);
    validation.set_audience(&[audience]);
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("verifies with the published key")
        .claims
}

/// Steps 1 and 2: PAR with private_key_jwt (the code bound by `dpop_jkt`
/// to `dpop`), then the browser at /authorize with only `client_id` and
/// `request_uri`, through the login page. The code and the PKCE verifier.
async fn code_through_par(
    app: &TestApp,
    client_key: &ClientKey,
    dpop: &DpopKey,
) -> (String, String) {
    let issuer = app.address.clone();
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let assertion = client_key.assertion("bank", &issuer, app.now());
    let res = post(
        app,
        "/par",
        &[
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
            ("response_type", "code"),
            ("client_id", "bank"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid profile"),
            ("state", "st4te"),
            ("nonce", "n0nce"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("dpop_jkt", &dpop.jkt),
        ],
        None,
    )
    .await;
    assert_eq!(res.status(), 201);
    let pushed: Value = res.json().await.unwrap();
    let request_uri = pushed["request_uri"].as_str().unwrap();
    let browser = Browser::new();
    let mut url = reqwest::Url::parse(&format!("{issuer}/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", "bank")
        .append_pair("request_uri", request_uri);
    let login = location(&browser.get(url.as_str()).await);
    assert!(login.contains("/login?request="), "{login}");
    let html = browser.get(&login).await.text().await.unwrap();
    let res = browser
        .submit_login(&issuer, &html, "alice", PASSWORD)
        .await;
    let callback = location(&browser.get(&location(&res)).await);
    assert!(callback.starts_with(REDIRECT), "{callback}");
    assert_eq!(
        query_param(&callback, "iss").as_deref(),
        Some(issuer.as_str())
    );
    assert_eq!(query_param(&callback, "state").as_deref(), Some("st4te"));
    let code = query_param(&callback, "code").expect("a code");
    (code, verifier.secret().to_owned())
}

/// Step 3's form: the code, the verifier and a fresh assertion.
fn code_form(
    app: &TestApp,
    client_key: &ClientKey,
    code: &str,
    verifier: &str,
) -> Vec<(String, String)> {
    let assertion = client_key.assertion("bank", &app.address, app.now());
    [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", &assertion),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect()
}

fn borrowed(form: &[(String, String)]) -> Vec<(&str, &str)> {
    form.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

#[tokio::test]
async fn the_whole_fapi2_flow_with_private_key_jwt_par_and_dpop() {
    let (app, client_key) = setup().await;
    let dpop = DpopKey::es256();
    let issuer = app.address.clone();
    let (code, verifier) = code_through_par(&app, &client_key, &dpop).await;

    // 3. The code at /token: assertion, PKCE verifier and a DPoP proof.
    let token_url = format!("{issuer}/token");
    let form = code_form(&app, &client_key, &code, &verifier);
    let pairs = borrowed(&form);
    let proof = dpop.proof("POST", &token_url, app.now(), None, None);
    let res = post(&app, "/token", &pairs, Some(&proof)).await;
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    assert_eq!(tokens["token_type"], "DPoP");
    let access = tokens["access_token"].as_str().unwrap();
    let claims = verified(&app, access, "at+jwt", &issuer).await;
    assert_eq!(claims["cnf"]["jkt"], dpop.jkt.as_str());
    let id = verified(&app, tokens["id_token"].as_str().unwrap(), "JWT", "bank").await;
    assert_eq!(id["nonce"], "n0nce");

    // 4. Userinfo with the DPoP scheme and a proof carrying ath.
    let userinfo = format!("{issuer}/userinfo");
    let proof = dpop.proof("GET", &userinfo, app.now(), Some(access), None);
    let res = app
        .http
        .get(&userinfo)
        .header("Authorization", format!("DPoP {access}"))
        .header("DPoP", proof)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let user: Value = res.json().await.unwrap();
    assert_eq!(user["sub"], claims["sub"]);

    // 5. Refresh with a new assertion and a DPoP proof.
    let assertion = client_key.assertion("bank", &issuer, app.now());
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion.as_str()),
    ];
    let proof = dpop.proof("POST", &token_url, app.now(), None, None);
    let res = post(&app, "/token", &refresh, Some(&proof)).await;
    assert_eq!(res.status(), 200);
    let next: Value = res.json().await.unwrap();
    assert_eq!(next["token_type"], "DPoP");
    let claims = verified(
        &app,
        next["access_token"].as_str().unwrap(),
        "at+jwt",
        &issuer,
    )
    .await;
    assert_eq!(claims["cnf"]["jkt"], dpop.jkt.as_str());
}

#[tokio::test]
async fn a_fapi2_client_gets_no_token_without_dpop_and_no_front_channel_request() {
    let (app, client_key) = setup().await;
    let assertion = client_key.assertion("bank", &app.address, app.now());
    let res = post(
        &app,
        "/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "whatever"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
        ],
        None,
    )
    .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request", "{body}");
    // The front channel is closed to it: PAR only.
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let mut url = reqwest::Url::parse(&format!("{}/authorize", app.address)).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "bank")
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid")
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256");
    let callback = location(&Browser::new().get(url.as_str()).await);
    assert_eq!(
        query_param(&callback, "error").as_deref(),
        Some("invalid_request")
    );
}

#[tokio::test]
async fn a_fapi2_clients_code_lives_sixty_seconds() {
    // The server's own code lifetime is longer; the profile caps it.
    let (app, client_key) = setup_with(AppOptions {
        manual_clock: true,
        extra: vec![("code_ttl", "600".into())],
        ..Default::default()
    })
    .await;
    let dpop = DpopKey::es256();
    let token_url = format!("{}/token", app.address);
    let (code, verifier) = code_through_par(&app, &client_key, &dpop).await;
    app.advance(61);
    let form = code_form(&app, &client_key, &code, &verifier);
    let proof = dpop.proof("POST", &token_url, app.now(), None, None);
    let res = post(&app, "/token", &borrowed(&form), Some(&proof)).await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant", "{body}");
    // Within the minute it is good.
    let (code, verifier) = code_through_par(&app, &client_key, &dpop).await;
    app.advance(59);
    let form = code_form(&app, &client_key, &code, &verifier);
    let proof = dpop.proof("POST", &token_url, app.now(), None, None);
    assert_eq!(
        post(&app, "/token", &borrowed(&form), Some(&proof))
            .await
            .status(),
        200
    );
}
