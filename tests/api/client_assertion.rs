//! `private_key_jwt` (RFC 7523 §2.2, §3; OIDC Core §9): clients signing
//! assertions with ES256 (p256), RS256 and PS256 (rsa), and EdDSA
//! (aws-lc-rs) keys, registered with `--jwks FILE`, through the admin API
//! and dynamic registration, or published at a `jwks_uri` served by a
//! small HTTP server in the test; every refusal of a bad assertion, and the
//! limits of fetching a `jwks_uri`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use portcullis::oauth::clients::{self, AuthMethod, GrantType, NewClient, Profile};
use portcullis::remote::Policy;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::cluster::Cluster;
use crate::helpers::tokens::TokenResponse;
use crate::helpers::{error_of, spawn_app, spawn_app_with, AppOptions, TestApp};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A client's key pair: what it signs with, and its public JWK.
struct ClientKey {
    alg: Algorithm,
    kid: String,
    signing: EncodingKey,
    public: Value,
}

impl ClientKey {
    fn es256(kid: &str) -> Self {
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        use p256::pkcs8::EncodePrivateKey;
        let secret = p256::SecretKey::random(&mut rand_core::OsRng);
        let point = secret.public_key().to_encoded_point(false);
        let der = secret.to_pkcs8_der().unwrap();
        ClientKey {
            alg: Algorithm::ES256,
            kid: kid.into(),
            signing: EncodingKey::from_ec_der(der.as_bytes()),
            public: json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
                           "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())}),
        }
    }

    /// An RSA key signing with `alg` (RS256 or PS256).
    fn rsa(kid: &str, bits: usize, alg: Algorithm) -> Self {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::traits::PublicKeyParts;
        let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, bits).unwrap();
        ClientKey {
            alg,
            kid: kid.into(),
            signing: EncodingKey::from_rsa_der(key.to_pkcs1_der().unwrap().as_bytes()),
            public: json!({"kty": "RSA", "kid": kid,
                           "n": b64(&key.n().to_bytes_be()), "e": b64(&key.e().to_bytes_be())}),
        }
    }

    fn ed25519(kid: &str) -> Self {
        use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        ClientKey {
            alg: Algorithm::EdDSA,
            kid: kid.into(),
            signing: EncodingKey::from_ed_der(pkcs8.as_ref()),
            public: json!({"kty": "OKP", "crv": "Ed25519", "kid": kid,
                           "x": b64(pair.public_key().as_ref())}),
        }
    }

    /// The same key pair, signing with another algorithm of its family.
    fn with_alg(&self, alg: Algorithm) -> Self {
        ClientKey {
            alg,
            kid: self.kid.clone(),
            signing: self.signing.clone(),
            public: self.public.clone(),
        }
    }

    fn sign(&self, claims: &Value) -> String {
        self.sign_with(self.alg, Some(&self.kid), claims)
    }

    fn sign_with(&self, alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &self.signing).unwrap()
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn jwks(keys: &[&ClientKey]) -> Value {
    json!({"keys": keys.iter().map(|k| k.public.clone()).collect::<Vec<_>>()})
}

/// What a client puts in its assertion for `aud`, valid for a minute.
fn claims_for(client_id: &str, aud: &str, now: i64) -> Value {
    json!({
        "iss": client_id, "sub": client_id, "aud": aud,
        "iat": now, "exp": now + 60,
        "jti": portcullis::secrets::random_token(16),
    })
}

/// An assertion as `client_id`'s, with some claims changed (`null` removes one).
fn assertion(app: &TestApp, key: &ClientKey, client_id: &str, changes: Value) -> String {
    let mut claims = claims_for(client_id, &app.address, app.now());
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    key.sign(&claims)
}

/// Registers the client-credentials client `id` with `private_key_jwt`
/// and `keys`, through the CLI (`--jwks FILE`), as an operator would.
fn add_with_jwks(app: &TestApp, id: &str, keys: &[&ClientKey]) {
    let path = app.dir.path().join(format!("{id}-jwks.json"));
    std::fs::write(&path, jwks(keys).to_string()).unwrap();
    let out = app.cli(
        &[
            "client",
            "add",
            id,
            "--grant-types",
            "client_credentials",
            "--scope",
            "api",
            "--auth-method",
            "private_key_jwt",
            "--jwks",
            path.to_str().unwrap(),
            "--json",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["token_endpoint_auth_method"], "private_key_jwt");
    assert!(summary.get("client_secret").is_none(), "no secret is made");
}

/// Registers `new` (a private_key_jwt client-credentials client) directly,
/// under `outbound` (for what no front door registers: a FAPI 2.0 client,
/// a `jwks_uri` the server's own setting would refuse).
async fn add_directly(app: &TestApp, new: NewClient, outbound: Policy) {
    let now = app.now();
    app.ctx
        .db
        .write(move |conn| clients::register(conn, new, outbound, "test", now).map(|_| ()))
        .await
        .expect("client registered");
}

fn pkjwt_client(id: &str) -> NewClient {
    NewClient {
        client_id: id.into(),
        grant_types: vec![GrantType::ClientCredentials],
        scope: "api".into(),
        auth_method: Some(AuthMethod::PrivateKeyJwt),
        ..NewClient::default()
    }
}

fn assertion_form<'a>(assertion: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
    ];
    form.extend_from_slice(extra);
    form
}

/// A client-credentials request authenticated by `assertion` alone.
async fn client_credentials(app: &TestApp, assertion: &str) -> reqwest::Response {
    app.post_token(
        &assertion_form(assertion, &[("grant_type", "client_credentials")]),
        None,
    )
    .await
}

/// As [`client_credentials`], with a DPoP proof: what a FAPI 2.0 client
/// (whose tokens must be DPoP-bound) sends.
async fn client_credentials_dpop(app: &TestApp, assertion: &str) -> reqwest::Response {
    let key = crate::helpers::dpop::DpopKey::es256();
    let proof = key.proof(
        "POST",
        &format!("{}/token", app.address),
        app.now(),
        None,
        None,
    );
    app.http
        .post(format!("{}/token", app.address))
        .header("DPoP", proof)
        .form(&assertion_form(
            assertion,
            &[("grant_type", "client_credentials")],
        ))
        .send()
        .await
        .unwrap()
}

/// A token for `client_id`, verified as a resource server would.
async fn assert_token_for(app: &TestApp, res: reqwest::Response, client_id: &str) {
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    let token: TokenResponse = serde_json::from_str(&body).unwrap();
    let claims = app
        .verify_access_token(&token.access_token, &app.address)
        .await
        .expect("the access token verifies");
    assert_eq!(claims["client_id"], client_id);
    assert_eq!(claims["sub"], client_id);
}

/// A refusal: its status and `error`, and no token in the answer.
async fn refused(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.expect("a JSON error body");
    assert!(body.get("access_token").is_none(), "no token: {body}");
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

fn invalid_client() -> (u16, String) {
    (401, "invalid_client".into())
}

fn invalid_request() -> (u16, String) {
    (400, "invalid_request".into())
}

/// An ES256 client `svc` registered with `--jwks`, on a fresh server.
async fn es256_setup() -> (TestApp, ClientKey) {
    let app = spawn_app().await;
    let key = ClientKey::es256("k1");
    add_with_jwks(&app, "svc", &[&key]);
    (app, key)
}

#[tokio::test]
async fn client_credentials_with_an_es256_assertion() {
    let (app, key) = es256_setup().await;
    let signed = assertion(&app, &key, "svc", json!({}));
    assert_token_for(&app, client_credentials(&app, &signed).await, "svc").await;
    // client_id beside the assertion, naming the same client, is fine.
    let signed = assertion(&app, &key, "svc", json!({}));
    let res = app
        .post_token(
            &assertion_form(
                &signed,
                &[("grant_type", "client_credentials"), ("client_id", "svc")],
            ),
            None,
        )
        .await;
    assert_token_for(&app, res, "svc").await;
}

#[tokio::test]
async fn client_credentials_with_rs256_and_ps256_assertions_by_one_rsa_key() {
    let app = spawn_app().await;
    let rs256 = ClientKey::rsa("r1", 2048, Algorithm::RS256);
    add_with_jwks(&app, "svc", &[&rs256]);
    let signed = assertion(&app, &rs256, "svc", json!({}));
    assert_token_for(&app, client_credentials(&app, &signed).await, "svc").await;
    let ps256 = rs256.with_alg(Algorithm::PS256);
    let signed = assertion(&app, &ps256, "svc", json!({}));
    assert_token_for(&app, client_credentials(&app, &signed).await, "svc").await;
}

#[tokio::test]
async fn client_credentials_with_an_eddsa_assertion_and_no_kid() {
    let app = spawn_app().await;
    let ed = ClientKey::ed25519("e1");
    let es = ClientKey::es256("k1");
    add_with_jwks(&app, "svc", &[&ed, &es]);
    // Without a kid: the only key that fits EdDSA.
    let claims = claims_for("svc", &app.address, app.now());
    let signed = ed.sign_with(Algorithm::EdDSA, None, &claims);
    assert_token_for(&app, client_credentials(&app, &signed).await, "svc").await;
}

#[tokio::test]
async fn the_token_endpoint_url_is_an_accepted_audience() {
    let (app, key) = es256_setup().await;
    let token_endpoint = format!("{}/token", app.address);
    let signed = assertion(&app, &key, "svc", json!({ "aud": token_endpoint }));
    assert_token_for(&app, client_credentials(&app, &signed).await, "svc").await;
    let both = json!(["https://elsewhere.example", token_endpoint]);
    let signed = assertion(&app, &key, "svc", json!({ "aud": both }));
    assert_token_for(&app, client_credentials(&app, &signed).await, "svc").await;
}

#[tokio::test]
async fn introspection_and_revocation_accept_an_assertion_with_their_own_url() {
    let (app, key) = es256_setup().await;
    let signed = assertion(&app, &key, "svc", json!({}));
    let token = TokenResponse::read(client_credentials(&app, &signed).await)
        .await
        .access_token;

    let introspect = format!("{}/introspect", app.address);
    let signed = assertion(&app, &key, "svc", json!({ "aud": introspect }));
    let res = app
        .post_form(
            "/introspect",
            &assertion_form(&signed, &[("token", &token)]),
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["active"], true);
    assert_eq!(answer["client_id"], "svc");

    // The revocation endpoint's URL is not introspection's audience.
    let revoke = format!("{}/revoke", app.address);
    let signed = assertion(&app, &key, "svc", json!({ "aud": revoke }));
    let res = app
        .post_form(
            "/introspect",
            &assertion_form(&signed, &[("token", &token)]),
            None,
        )
        .await;
    assert_eq!(refused(res).await, invalid_client());

    let signed = assertion(&app, &key, "svc", json!({ "aud": revoke }));
    let res = app
        .post_form(
            "/revoke",
            &assertion_form(&signed, &[("token", &token)]),
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    let signed = assertion(&app, &key, "svc", json!({}));
    let res = app
        .post_form(
            "/introspect",
            &assertion_form(&signed, &[("token", &token)]),
            None,
        )
        .await;
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["active"], false, "revoked");
}

#[tokio::test]
async fn a_missing_jti_is_refused() {
    let (app, key) = es256_setup().await;
    let signed = assertion(&app, &key, "svc", json!({"jti": null}));
    assert_eq!(
        refused(client_credentials(&app, &signed).await).await,
        invalid_client()
    );
}

#[tokio::test]
async fn a_replayed_assertion_is_refused() {
    let (app, key) = es256_setup().await;
    let signed = assertion(&app, &key, "svc", json!({}));
    assert_eq!(client_credentials(&app, &signed).await.status(), 200);
    assert_eq!(
        refused(client_credentials(&app, &signed).await).await,
        invalid_client()
    );
    // Its jti is this client's: another client may use the same one.
    let other = ClientKey::es256("o1");
    add_with_jwks(&app, "svc2", &[&other]);
    let jti = "the-same-jti";
    let first = assertion(&app, &key, "svc", json!({ "jti": jti }));
    let second = assertion(&app, &other, "svc2", json!({ "jti": jti }));
    assert_eq!(client_credentials(&app, &first).await.status(), 200);
    assert_eq!(client_credentials(&app, &second).await.status(), 200);
}

/// The jti is recorded in the database both replicas share: of the same
/// assertion sent to both at once, one request succeeds.
#[tokio::test]
async fn an_assertion_replayed_at_another_replica_is_refused() {
    let mut cluster = Cluster::new(&[]);
    cluster.cli(&["migrate"], None);
    let key = ClientKey::es256("k1");
    let path = cluster.dir().join("jwks.json");
    std::fs::write(&path, jwks(&[&key]).to_string()).unwrap();
    cluster.cli(
        &[
            "client",
            "add",
            "svc",
            "--grant-types",
            "client_credentials",
            "--scope",
            "api",
            "--auth-method",
            "private_key_jwt",
            "--jwks",
            path.to_str().unwrap(),
        ],
        None,
    );
    let (a, b) = (cluster.start_replica().await, cluster.start_replica().await);
    let http = reqwest::Client::new();
    let now = unix_now();
    let send = |at: String, signed: String| {
        let http = http.clone();
        async move {
            let res = http
                .post(format!("{at}/token"))
                .form(&assertion_form(
                    &signed,
                    &[("grant_type", "client_credentials")],
                ))
                .send()
                .await
                .unwrap();
            res.status().as_u16()
        }
    };
    let signed = key.sign(&claims_for("svc", &cluster.issuer, now));
    assert_eq!(send(cluster.at(a).to_owned(), signed.clone()).await, 200);
    assert_eq!(send(cluster.at(b).to_owned(), signed).await, 401);

    let signed = key.sign(&claims_for("svc", &cluster.issuer, now));
    let attempts = (0..8).map(|i| send(cluster.at([a, b][i % 2]).to_owned(), signed.clone()));
    let statuses = futures::future::join_all(attempts).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 401),
        "{statuses:?}"
    );
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn a_wrong_issuer_is_refused() {
    let (app, key) = es256_setup().await;
    let signed = assertion(&app, &key, "svc", json!({"iss": "someone-else"}));
    assert_eq!(
        refused(client_credentials(&app, &signed).await).await,
        invalid_client()
    );
}

#[tokio::test]
async fn a_subject_other_than_the_client_is_refused() {
    let (app, key) = es256_setup().await;
    add_with_jwks(&app, "other", &[&ClientKey::es256("o1")]);
    // Signed by svc's key, about another client.
    let signed = assertion(&app, &key, "svc", json!({"sub": "other"}));
    assert_eq!(
        refused(client_credentials(&app, &signed).await).await,
        invalid_client()
    );
    // A client_id that is not the assertion's sub.
    let signed = assertion(&app, &key, "svc", json!({}));
    let res = app
        .post_token(
            &assertion_form(
                &signed,
                &[("grant_type", "client_credentials"), ("client_id", "other")],
            ),
            None,
        )
        .await;
    assert_eq!(refused(res).await, invalid_client());
}

#[tokio::test]
async fn a_wrong_audience_is_refused() {
    let (app, key) = es256_setup().await;
    for aud in [
        json!("https://another-server.example"),
        json!(format!("{}/", app.address)),
        json!(format!("{}/userinfo", app.address)),
        json!([]),
    ] {
        let signed = assertion(&app, &key, "svc", json!({ "aud": aud }));
        assert_eq!(
            refused(client_credentials(&app, &signed).await).await,
            invalid_client(),
            "{aud}"
        );
    }
    let signed = assertion(&app, &key, "svc", json!({"aud": null}));
    assert_eq!(
        refused(client_credentials(&app, &signed).await).await,
        invalid_client()
    );
}

/// A FAPI 2.0 client (ES256 key `f1`, and an RSA key `r1`).
async fn fapi2_setup() -> (TestApp, ClientKey, ClientKey) {
    let app = spawn_app().await;
    let es = ClientKey::es256("f1");
    let rsa = ClientKey::rsa("r1", 2048, Algorithm::PS256);
    let new = NewClient {
        jwks: Some(jwks(&[&es, &rsa])),
        profile: Some(Profile::Fapi2),
        signing_alg: portcullis::keys::SigningAlg::Ps256,
        ..pkjwt_client("fapi")
    };
    add_directly(&app, new, Policy::default()).await;
    (app, es, rsa)
}

#[tokio::test]
async fn a_fapi2_client_must_name_the_issuer_as_audience() {
    let (app, key, _) = fapi2_setup().await;
    let token_endpoint = format!("{}/token", app.address);
    let signed = assertion(&app, &key, "fapi", json!({ "aud": token_endpoint }));
    assert_eq!(
        refused(client_credentials_dpop(&app, &signed).await).await,
        invalid_client()
    );
    let signed = assertion(&app, &key, "fapi", json!({}));
    assert_token_for(&app, client_credentials_dpop(&app, &signed).await, "fapi").await;
}

#[tokio::test]
async fn a_fapi2_client_may_not_use_rs256() {
    let (app, _, rsa) = fapi2_setup().await;
    let rs256 = rsa.with_alg(Algorithm::RS256);
    let signed = assertion(&app, &rs256, "fapi", json!({}));
    assert_eq!(
        refused(client_credentials_dpop(&app, &signed).await).await,
        invalid_client()
    );
    // The same key with PS256 is fine.
    let signed = assertion(&app, &rsa, "fapi", json!({}));
    assert_token_for(&app, client_credentials_dpop(&app, &signed).await, "fapi").await;
}

#[tokio::test]
async fn an_expired_assertion_is_refused() {
    let (app, key) = es256_setup().await;
    let now = app.now();
    let signed = assertion(
        &app,
        &key,
        "svc",
        json!({"iat": now - 300, "exp": now - 120}),
    );
    assert_eq!(
        refused(client_credentials(&app, &signed).await).await,
        invalid_client()
    );
}

#[tokio::test]
async fn an_assertion_living_longer_than_ten_minutes_is_refused() {
    let (app, key) = es256_setup().await;
    let now = app.now();
    let signed = assertion(&app, &key, "svc", json!({ "exp": now + 3600 }));
    assert_eq!(
        refused(client_credentials(&app, &signed).await).await,
        invalid_client()
    );
    let signed = assertion(&app, &key, "svc", json!({"exp": null}));
    assert_eq!(
        refused(client_credentials(&app, &signed).await).await,
        invalid_client()
    );
    // 600 s is the limit, not less.
    let signed = assertion(&app, &key, "svc", json!({ "exp": now + 590 }));
    assert_eq!(client_credentials(&app, &signed).await.status(), 200);
}

#[tokio::test]
async fn an_assertion_issued_in_the_future_is_refused() {
    let (app, key) = es256_setup().await;
    let now = app.now();
    let signed = assertion(
        &app,
        &key,
        "svc",
        json!({"iat": now + 300, "exp": now + 360}),
    );
    assert_eq!(
        refused(client_credentials(&app, &signed).await).await,
        invalid_client()
    );
    let signed = assertion(
        &app,
        &key,
        "svc",
        json!({"nbf": now + 300, "exp": now + 360}),
    );
    assert_eq!(
        refused(client_credentials(&app, &signed).await).await,
        invalid_client()
    );
}

#[tokio::test]
async fn an_unsigned_assertion_is_refused() {
    let (app, _) = es256_setup().await;
    let claims = claims_for("svc", &app.address, app.now());
    for header in [json!({"alg": "none"}), json!({"alg": "none", "kid": "k1"})] {
        let unsigned = format!(
            "{}.{}.",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        assert_eq!(
            refused(client_credentials(&app, &unsigned).await).await,
            invalid_client()
        );
    }
}

#[tokio::test]
async fn an_hs256_assertion_keyed_with_public_data_is_refused() {
    let (app, key) = es256_setup().await;
    let claims = claims_for("svc", &app.address, app.now());
    for secret in ["svc".as_bytes(), key.public.to_string().as_bytes()] {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        let forged =
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret)).unwrap();
        assert_eq!(
            refused(client_credentials(&app, &forged).await).await,
            invalid_client()
        );
    }
}

#[tokio::test]
async fn an_unknown_kid_is_refused() {
    let (app, key) = es256_setup().await;
    let claims = claims_for("svc", &app.address, app.now());
    let signed = key.sign_with(Algorithm::ES256, Some("k2"), &claims);
    assert_eq!(
        refused(client_credentials(&app, &signed).await).await,
        invalid_client()
    );
}

#[tokio::test]
async fn a_signature_by_another_key_is_refused() {
    let (app, _) = es256_setup().await;
    let stranger = ClientKey::es256("k1");
    let signed = assertion(&app, &stranger, "svc", json!({}));
    assert_eq!(
        refused(client_credentials(&app, &signed).await).await,
        invalid_client()
    );
    // A signature cut from a genuine assertion does not carry over either.
    let (app2, key) = es256_setup().await;
    let genuine = assertion(&app2, &key, "svc", json!({}));
    let tampered = assertion(&app2, &key, "svc", json!({"exp": app2.now() + 300}));
    let mut parts: Vec<&str> = tampered.split('.').collect();
    parts[2] = genuine.split('.').nth(2).unwrap();
    assert_eq!(
        refused(client_credentials(&app2, &parts.join(".")).await).await,
        invalid_client()
    );
}

#[tokio::test]
async fn a_secret_client_cannot_authenticate_with_an_assertion() {
    let app = spawn_app().await;
    app.create_service_client("app").await;
    let key = ClientKey::es256("k1");
    let signed = assertion(&app, &key, "app", json!({}));
    assert_eq!(
        refused(client_credentials(&app, &signed).await).await,
        invalid_client()
    );
}

#[tokio::test]
async fn a_private_key_jwt_client_cannot_authenticate_with_a_secret() {
    let (app, _) = es256_setup().await;
    let grant = [("grant_type", "client_credentials")];
    let res = app.post_token(&grant, Some(("svc", ""))).await;
    assert_eq!(refused(res).await, invalid_client());
    let res = app.post_token(&grant, Some(("svc", "anything"))).await;
    assert_eq!(refused(res).await, invalid_client());
    let res = app
        .post_token(
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "svc"),
                ("client_secret", "anything"),
            ],
            None,
        )
        .await;
    assert_eq!(refused(res).await, invalid_client());
    // Nor as a public client, by its id alone.
    let res = app
        .post_token(
            &[("grant_type", "client_credentials"), ("client_id", "svc")],
            None,
        )
        .await;
    assert_eq!(refused(res).await, invalid_client());
}

#[tokio::test]
async fn an_assertion_and_basic_credentials_at_once_are_refused() {
    let (app, key) = es256_setup().await;
    let signed = assertion(&app, &key, "svc", json!({}));
    let res = app
        .post_token(
            &assertion_form(&signed, &[("grant_type", "client_credentials")]),
            Some(("svc", "secret")),
        )
        .await;
    assert_eq!(refused(res).await, invalid_request());
    let res = app
        .post_token(
            &assertion_form(
                &signed,
                &[("grant_type", "client_credentials"), ("client_secret", "x")],
            ),
            None,
        )
        .await;
    assert_eq!(refused(res).await, invalid_request());
    // The assertion was not spent by the refusals.
    assert_eq!(client_credentials(&app, &signed).await.status(), 200);
}

#[tokio::test]
async fn a_wrong_client_assertion_type_is_refused() {
    let (app, key) = es256_setup().await;
    let signed = assertion(&app, &key, "svc", json!({}));
    let res = app
        .post_token(
            &[
                ("grant_type", "client_credentials"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
                ),
                ("client_assertion", &signed),
            ],
            None,
        )
        .await;
    assert_eq!(refused(res).await, invalid_request());
    let res = app
        .post_token(
            &[
                ("grant_type", "client_credentials"),
                ("client_assertion", &signed),
            ],
            None,
        )
        .await;
    assert_eq!(refused(res).await, invalid_request());
}

/// How the test's JWKS server answers.
#[derive(Clone, Copy, PartialEq)]
enum Serving {
    /// The current set, with `Cache-Control: max-age=300`.
    Set,
    /// 80 KiB of body without a length, then the connection held open.
    Oversize,
    /// Nothing for 10 s.
    Slow,
}

/// A JWK Set publisher on 127.0.0.1 that counts the connections and the
/// requests it gets.
struct JwksServer {
    url: String,
    connections: Arc<AtomicUsize>,
    hits: Arc<AtomicUsize>,
    set: Arc<Mutex<Value>>,
}

impl JwksServer {
    async fn start(serving: Serving, set: Value) -> JwksServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let connections = Arc::new(AtomicUsize::new(0));
        let set = Arc::new(Mutex::new(set));
        let (counter, current, accepted) = (hits.clone(), set.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                let (counter, current) = (counter.clone(), current.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    counter.fetch_add(1, Ordering::SeqCst);
                    match serving {
                        Serving::Set => {
                            let body = current.lock().unwrap().to_string();
                            let answer = format!(
                                "HTTP/1.1 200 OK\r\ncontent-type: application/jwk-set+json\r\n\
                                 cache-control: public, max-age=300\r\ncontent-length: {}\r\n\
                                 connection: close\r\n\r\n{body}",
                                body.len()
                            );
                            let _ = socket.write_all(answer.as_bytes()).await;
                        }
                        Serving::Oversize => {
                            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{\"keys\": [";
                            let _ = socket.write_all(head.as_bytes()).await;
                            let _ = socket.write_all(&[b' '; 80 * 1024]).await;
                            tokio::time::sleep(Duration::from_secs(30)).await;
                        }
                        Serving::Slow => tokio::time::sleep(Duration::from_secs(10)).await,
                    }
                });
            }
        });
        JwksServer {
            url,
            connections,
            hits,
            set,
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn publish(&self, set: Value) {
        *self.set.lock().unwrap() = set;
    }
}

fn allowing_private_addresses() -> AppOptions {
    AppOptions {
        extra: vec![("outbound_allow_private_addresses", "true".into())],
        ..Default::default()
    }
}

/// Registers `svc` with `--jwks-uri`, through the admin API.
async fn add_with_jwks_uri(app: &TestApp, uri: &str) {
    let admin = app.admin_token("portcullis:admin").await;
    let res = app
        .http
        .post(format!("{}/admin/clients", app.address))
        .bearer_auth(admin)
        .json(&json!({
            "client_id": "svc",
            "grant_types": ["client_credentials"],
            "scope": "api",
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks_uri": uri,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
}

#[tokio::test]
async fn a_rotated_key_at_the_jwks_uri_is_fetched_once_and_unknown_kids_wait() {
    let app = spawn_app_with(AppOptions {
        manual_clock: true,
        ..allowing_private_addresses()
    })
    .await;
    let old = ClientKey::es256("old");
    let server = JwksServer::start(Serving::Set, jwks(&[&old])).await;
    add_with_jwks_uri(&app, &server.url).await;

    let signed = assertion(&app, &old, "svc", json!({}));
    assert_token_for(&app, client_credentials(&app, &signed).await, "svc").await;
    let signed = assertion(&app, &old, "svc", json!({}));
    assert_token_for(&app, client_credentials(&app, &signed).await, "svc").await;
    assert_eq!(server.hits(), 1, "the second assertion used the cached set");

    // The client rotates. Within 10 s of the last fetch its new kid waits
    // (the cached set answers); after them, the set is fetched again, once.
    let new = ClientKey::ed25519("new");
    server.publish(jwks(&[&old, &new]));
    let signed = assertion(&app, &new, "svc", json!({}));
    assert_eq!(
        refused(client_credentials(&app, &signed).await).await,
        invalid_client()
    );
    assert_eq!(server.hits(), 1);
    app.advance(10);
    let signed = assertion(&app, &new, "svc", json!({}));
    assert_token_for(&app, client_credentials(&app, &signed).await, "svc").await;
    assert_eq!(server.hits(), 2);

    // Another unknown kid within 10 s: the cached set answers, no fetch.
    let newer = ClientKey::es256("newer");
    server.publish(jwks(&[&old, &new, &newer]));
    app.advance(9);
    let signed = assertion(&app, &newer, "svc", json!({}));
    assert_eq!(
        refused(client_credentials(&app, &signed).await).await,
        invalid_client()
    );
    assert_eq!(server.hits(), 2, "no refetch within 10 s");
    let signed = assertion(&app, &new, "svc", json!({}));
    assert_token_for(&app, client_credentials(&app, &signed).await, "svc").await;
    assert_eq!(server.hits(), 2);

    // Once the set's max-age (300 s) has passed it is fetched again, with
    // whatever the client publishes then.
    server.publish(jwks(&[&newer]));
    app.advance(300);
    let signed = assertion(&app, &old, "svc", json!({}));
    assert_eq!(
        refused(client_credentials(&app, &signed).await).await,
        invalid_client()
    );
    assert_eq!(server.hits(), 3);
    let signed = assertion(&app, &newer, "svc", json!({}));
    assert_token_for(&app, client_credentials(&app, &signed).await, "svc").await;
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn a_jwks_uri_on_a_private_address_is_not_fetched_by_default() {
    let app = spawn_app().await;
    let key = ClientKey::es256("k1");
    let server = JwksServer::start(Serving::Set, jwks(&[&key])).await;
    // The front doors refuse to register it...
    let out = app.cli(
        &[
            "client",
            "add",
            "svc",
            "--grant-types",
            "client_credentials",
            "--auth-method",
            "private_key_jwt",
            "--jwks-uri",
            &server.url,
        ],
        None,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("https"), "{stderr}");
    let https = server.url.replace("http://", "https://");
    let out = app.cli(
        &[
            "client",
            "add",
            "svc",
            "--grant-types",
            "client_credentials",
            "--auth-method",
            "private_key_jwt",
            "--jwks-uri",
            &https,
        ],
        None,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("127.0.0.1 is a loopback address"),
        "{stderr}"
    );
    // ...and one stored anyway (by a server with the setting on, say) is
    // never connected to: not over http, not at a loopback address, not at
    // a name that resolves to one.
    let port = server
        .url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    let urls = [
        server.url.clone(),
        https,
        format!("https://localhost:{port}/jwks.json"),
        format!("https://[::ffff:127.0.0.1]:{port}/jwks.json"),
    ];
    for (i, url) in urls.iter().enumerate() {
        let id = format!("svc{i}");
        let new = NewClient {
            jwks_uri: Some(url.clone()),
            ..pkjwt_client(&id)
        };
        add_directly(
            &app,
            new,
            Policy {
                allow_private_addresses: true,
            },
        )
        .await;
        let signed = assertion(&app, &key, &id, json!({}));
        assert_eq!(
            refused(client_credentials(&app, &signed).await).await,
            invalid_client(),
            "{url}"
        );
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 0);
    assert_eq!(server.hits(), 0);
}

#[tokio::test]
async fn an_oversize_jwks_is_refused_as_it_streams() {
    let app = spawn_app_with(allowing_private_addresses()).await;
    let key = ClientKey::es256("k1");
    let server = JwksServer::start(Serving::Oversize, jwks(&[&key])).await;
    add_with_jwks_uri(&app, &server.url).await;
    let signed = assertion(&app, &key, "svc", json!({}));
    let started = Instant::now();
    let res = client_credentials(&app, &signed).await;
    // Cut off at 64 KiB, not read on until the 3 s limit.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(refused(res).await, invalid_client());
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn a_slow_jwks_uri_is_given_up_on_after_three_seconds() {
    let app = spawn_app_with(allowing_private_addresses()).await;
    let key = ClientKey::es256("k1");
    let server = JwksServer::start(Serving::Slow, jwks(&[&key])).await;
    add_with_jwks_uri(&app, &server.url).await;
    let signed = assertion(&app, &key, "svc", json!({}));
    let started = Instant::now();
    let res = client_credentials(&app, &signed).await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(2900) && took < Duration::from_secs(6),
        "{took:?}"
    );
    assert_eq!(refused(res).await, invalid_client());
    // A failed fetch is not retried at once: the next request fails fast.
    let signed = assertion(&app, &key, "svc", json!({}));
    let started = Instant::now();
    assert_eq!(
        refused(client_credentials(&app, &signed).await).await,
        invalid_client()
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(server.hits(), 1);
}

/// `client add … --auth-method private_key_jwt` with these extra flags;
/// returns stderr, which must say the client was refused.
fn refused_by_cli(app: &TestApp, extra: &[&str]) -> String {
    let mut args = vec![
        "client",
        "add",
        "svc",
        "--grant-types",
        "client_credentials",
        "--auth-method",
        "private_key_jwt",
    ];
    args.extend_from_slice(extra);
    let out = app.cli(&args, None);
    assert!(!out.status.success(), "{extra:?} was accepted");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn registration_refuses_keys_that_are_not_public_asymmetric_ones() {
    let app = spawn_app().await;
    let file = |name: &str, set: Value| {
        let path = app.dir.path().join(name);
        std::fs::write(&path, set.to_string()).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let mut private = ClientKey::es256("k1").public;
    private["d"] = json!(b64(&[1u8; 32]));
    let weak = ClientKey::rsa("r1", 1024, Algorithm::RS256).public;
    let cases = [
        (
            file("private.json", json!({ "keys": [private] })),
            "private or symmetric member `d`",
        ),
        (
            file(
                "hs.json",
                json!({"keys": [{"kty": "oct", "k": b64(b"svc"), "alg": "HS256"}]}),
            ),
            "member `k`",
        ),
        (
            file("weak.json", json!({ "keys": [weak] })),
            "2048 to 8192 bits",
        ),
    ];
    for (path, rule) in cases {
        let stderr = refused_by_cli(&app, &["--jwks", &path]);
        assert!(stderr.contains(rule), "{rule}: {stderr}");
    }
    let good = file("good.json", jwks(&[&ClientKey::es256("k1")]));
    let stderr = refused_by_cli(
        &app,
        &[
            "--jwks",
            &good,
            "--jwks-uri",
            "https://client.example/jwks.json",
        ],
    );
    assert!(stderr.contains("jwks or jwks_uri, not both"), "{stderr}");
    let stderr = refused_by_cli(&app, &["--jwks-uri", "http://client.example/jwks.json"]);
    assert!(stderr.contains("must be an https URL"), "{stderr}");
    let stderr = refused_by_cli(&app, &[]);
    assert!(stderr.contains("needs its public keys"), "{stderr}");
    // Keys without private_key_jwt are refused too.
    let out = app.cli(
        &[
            "client",
            "add",
            "svc2",
            "--grant-types",
            "client_credentials",
            "--jwks",
            &good,
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("for private_key_jwt clients only"));
    // Nothing was stored.
    let list = app.cli(&["client", "list", "--json"], None);
    let listed: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(listed, json!([]));
}

#[tokio::test]
async fn the_admin_api_refuses_bad_keys_and_the_list_shows_the_method() {
    let app = spawn_app().await;
    let admin = app.admin_token("portcullis:admin").await;
    let post = |body: Value| {
        app.http
            .post(format!("{}/admin/clients", app.address))
            .bearer_auth(&admin)
            .json(&body)
            .send()
    };
    let key = ClientKey::es256("k1");
    let base = json!({"client_id": "svc", "grant_types": ["client_credentials"],
                      "token_endpoint_auth_method": "private_key_jwt"});
    let with = |extra: Value| {
        let mut body = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    for bad in [
        json!({"jwks": {"keys": [{"kty": "oct", "k": "c3Zj"}]}}),
        json!({"jwks": jwks(&[&key]), "jwks_uri": "https://client.example/jwks"}),
        json!({"jwks_uri": "http://client.example/jwks"}),
        json!({"jwks": jwks(&[&key]), "secret": "a".repeat(40)}),
        json!({"token_endpoint_auth_method": "client_secret_jwt"}),
    ] {
        let res = post(with(bad.clone())).await.unwrap();
        assert_eq!(res.status(), 400, "{bad}");
    }
    let res = post(with(json!({ "jwks": jwks(&[&key]) }))).await.unwrap();
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(created["public"], false);
    assert!(created.get("client_secret").is_none());
    assert_eq!(created["jwks"]["keys"][0]["kid"], "k1");
    let signed = assertion(&app, &key, "svc", json!({}));
    assert_token_for(&app, client_credentials(&app, &signed).await, "svc").await;

    let list = app.cli(&["client", "list"], None);
    let table = String::from_utf8_lossy(&list.stdout);
    let row = table.lines().find(|l| l.starts_with("svc ")).unwrap();
    assert!(
        row.contains("confidential") && row.contains("private_key_jwt"),
        "{table}"
    );
}

#[tokio::test]
async fn dynamic_registration_takes_keys_and_a_signing_algorithm() {
    let app = spawn_app_with(AppOptions {
        extra: vec![("registration", "token".into())],
        ..Default::default()
    })
    .await;
    let now = app.now();
    let initial = app
        .ctx
        .db
        .write(move |conn| {
            portcullis::oauth::registration::initial_tokens::create(conn, None, None, "test", now)
        })
        .await
        .unwrap()
        .token;
    let es = ClientKey::es256("k1");
    let ed = ClientKey::ed25519("e1");
    let body = json!({
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "ES256",
        "jwks": jwks(&[&es, &ed]),
    });
    let res = app
        .http
        .post(format!("{}/register", app.address))
        .bearer_auth(&initial)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let registered: Value = res.json().await.unwrap();
    let id = registered["client_id"].as_str().unwrap().to_owned();
    assert_eq!(registered["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(registered["jwks"]["keys"].as_array().unwrap().len(), 2);
    assert!(registered.get("client_secret").is_none());

    let signed = assertion(&app, &es, &id, json!({}));
    assert_eq!(client_credentials(&app, &signed).await.status(), 200);
    // Its other key is fine, but not with an algorithm it did not register.
    let signed = assertion(&app, &ed, &id, json!({}));
    assert_eq!(
        refused(client_credentials(&app, &signed).await).await,
        invalid_client()
    );

    // It rotates its keys through RFC 7592: the new key works, the old no
    // longer; it cannot turn into a secret client.
    let manage = registered["registration_client_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let rat = registered["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let next = ClientKey::es256("k2");
    let mut update = body.clone();
    update["client_id"] = json!(id);
    update["token_endpoint_auth_method"] = json!("client_secret_basic");
    update
        .as_object_mut()
        .unwrap()
        .remove("token_endpoint_auth_signing_alg");
    update.as_object_mut().unwrap().remove("jwks");
    let put =
        |body: Value, token: String| app.http.put(&manage).bearer_auth(token).json(&body).send();
    let res = put(update.clone(), rat.clone()).await.unwrap();
    assert_eq!(error_of(res).await, (400, "invalid_client_metadata".into()));
    update["token_endpoint_auth_method"] = json!("private_key_jwt");
    update["jwks"] = jwks(&[&next]);
    let res = put(update, rat).await.unwrap();
    assert_eq!(res.status(), 200);
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["jwks"]["keys"][0]["kid"], "k2");
    let signed = assertion(&app, &next, &id, json!({}));
    assert_eq!(client_credentials(&app, &signed).await.status(), 200);
    let signed = assertion(&app, &es, &id, json!({}));
    assert_eq!(
        refused(client_credentials(&app, &signed).await).await,
        invalid_client()
    );

    let mut private = es.public.clone();
    private["d"] = json!(b64(&[1u8; 32]));
    for bad in [
        json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt",
               "jwks": {"keys": [private]}}),
        json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt",
               "jwks_uri": "http://client.example/jwks"}),
        json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt",
               "jwks": jwks(&[&es]), "token_endpoint_auth_signing_alg": "HS256"}),
    ] {
        let res = app
            .http
            .post(format!("{}/register", app.address))
            .bearer_auth(&initial)
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_of(res).await,
            (400, "invalid_client_metadata".into()),
            "{bad}"
        );
    }
}
