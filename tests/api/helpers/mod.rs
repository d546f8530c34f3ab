//! What the tests share: a server on a fresh database ([`spawn_app`]) and
//! the ways to talk to it. [`browser`] holds the cookie-keeping browser and
//! the authorization-code steps, [`tokens`] the typed token response, and
//! [`cluster`] the real `portcullis serve` processes on one database.

pub mod browser;
pub mod cluster;
pub mod dpop;
pub mod tokens;
pub mod totp;
pub mod webdriver;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use diesel::{Connection, RunQueryDsl};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use portcullis::clock::{Clock, ManualClock};
use portcullis::config::{Overrides, Settings};
use portcullis::keys::SigningAlg;
use portcullis::oauth::clients::{self, GrantType, NewClient};
use portcullis::oauth::Context;
use portcullis::startup::Application;
use serde_json::Value;

/// The password every test user has.
pub const PASSWORD: &str = "correct horse battery";

/// A port nobody listens on at the moment of asking.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct TestApp {
    pub address: String,
    pub ctx: std::sync::Arc<Context>,
    /// The hand on the server's clock, when the test asked for a manual one.
    pub clock: Option<ManualClock>,
    pub database_url: String,
    pub kek_file: PathBuf,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
}

/// Options a test may change before the server starts.
pub struct AppOptions {
    pub refresh_token_ttl: i64,
    pub access_token_ttl: i64,
    pub refresh_reuse_grace: i64,
    /// A clock the test moves with [`TestApp::advance`] instead of sleeping.
    pub manual_clock: bool,
    /// Any other settings, by key.
    pub extra: Vec<(&'static str, String)>,
    /// The issuer is `http://localhost:PORT` (WebAuthn needs a host name)
    /// instead of `http://127.0.0.1:PORT`.
    pub localhost: bool,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            refresh_token_ttl: 86_400,
            access_token_ttl: 300,
            refresh_reuse_grace: 0,
            manual_clock: false,
            extra: Vec::new(),
            localhost: false,
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(AppOptions::default()).await
}

/// A fresh database URL: a SQLite file in `dir`, or a new PostgreSQL
/// database when PORTCULLIS_TEST_POSTGRES_URL names a server.
pub fn fresh_database_url(dir: &std::path::Path) -> String {
    match std::env::var("PORTCULLIS_TEST_POSTGRES_URL") {
        Ok(base) if !base.is_empty() => {
            let name = format!(
                "portcullis_test_{}",
                portcullis::secrets::random_uuid().replace('-', "")
            );
            let mut conn = diesel::PgConnection::establish(&base).expect("connect to PostgreSQL");
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .expect("create database");
            let (prefix, _) = base
                .rsplit_once('/')
                .expect("PostgreSQL URL ends with /DATABASE");
            // Without TLS to the local server: libpq's OpenSSL clean-up at
            // process exit races with server threads still holding
            // connections, and crashes the test binary after the last test.
            format!("{prefix}/{name}?sslmode=disable")
        }
        _ => format!("sqlite://{}", dir.join("portcullis.db").display()),
    }
}

pub async fn spawn_app_with(options: AppOptions) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = fresh_database_url(dir.path());
    let kek_file = dir.path().join("kek");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    let port = listener.local_addr().unwrap().port();
    let host = if options.localhost {
        "localhost"
    } else {
        "127.0.0.1"
    };
    let address = format!("http://{host}:{port}");
    let mut flags = Overrides::default();
    flags.0.insert("database_url", database_url.clone());
    flags.0.insert("kek_file", kek_file.display().to_string());
    flags.0.insert("issuer", address.clone());
    flags.0.insert("bind", format!("127.0.0.1:{port}"));
    flags.0.insert("key_refresh_interval", "1".into());
    flags
        .0
        .insert("refresh_token_ttl", options.refresh_token_ttl.to_string());
    flags
        .0
        .insert("access_token_ttl", options.access_token_ttl.to_string());
    flags.0.insert("db_pool_size", "4".into());
    flags.0.insert(
        "refresh_reuse_grace",
        options.refresh_reuse_grace.to_string(),
    );
    for (key, value) in options.extra {
        flags.0.insert(key, value);
    }
    let settings = Settings::load(None, |_| None, &flags).expect("valid settings");
    let (clock, hand) = if options.manual_clock {
        let (clock, hand) = Clock::manual();
        (clock, Some(hand))
    } else {
        (Clock::system(), None)
    };
    let app = Application::from_listener(settings, listener, clock)
        .await
        .expect("server builds");
    let ctx = app.context();
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp {
        address,
        ctx,
        clock: hand,
        database_url,
        kek_file,
        http,
        dir,
    }
}

pub struct ClientSpec<'a> {
    pub id: &'a str,
    pub public: bool,
    pub grants: &'a [GrantType],
    pub scope: &'a str,
    pub audience: Option<&'a str>,
    pub alg: SigningAlg,
    pub redirect_uris: &'a [&'a str],
    pub post_logout_redirect_uris: &'a [&'a str],
    pub consent: bool,
    pub resources: &'a [&'a str],
    pub exchange_audiences: &'a [&'a str],
    pub exchange_impersonation: bool,
    /// Access tokens must be DPoP-bound.
    pub require_dpop: bool,
    /// Authorization requests must be pushed (RFC 9126).
    pub require_par: bool,
}

impl<'a> ClientSpec<'a> {
    /// The default client (confidential, password and refresh grants),
    /// named `id`.
    pub fn named(id: &'a str) -> Self {
        ClientSpec {
            id,
            ..Default::default()
        }
    }
}

impl Default for ClientSpec<'_> {
    fn default() -> Self {
        ClientSpec {
            id: "app",
            public: false,
            grants: &[GrantType::Password, GrantType::RefreshToken],
            scope: "openid profile email api:read api:write",
            audience: None,
            alg: SigningAlg::Rs256,
            redirect_uris: &[],
            post_logout_redirect_uris: &[],
            consent: false,
            resources: &[],
            exchange_audiences: &[],
            exchange_impersonation: false,
            require_dpop: false,
            require_par: false,
        }
    }
}

/// A user, a client that logs users in (`web`), a resource server (`api`,
/// the audience of web's tokens) and an unrelated client (`other`), with
/// their secrets.
pub struct ResourceSetup {
    pub app: TestApp,
    pub web: String,
    pub api: String,
    pub other: String,
}

pub async fn resource_setup() -> ResourceSetup {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD).await;
    let web = app
        .create_client(ClientSpec {
            id: "web",
            audience: Some("api"),
            ..Default::default()
        })
        .await
        .unwrap();
    let api = app.create_service_client("api").await;
    let other = app.create_client(ClientSpec::named("other")).await.unwrap();
    ResourceSetup {
        app,
        web,
        api,
        other,
    }
}

impl TestApp {
    /// The server's time.
    pub fn now(&self) -> i64 {
        self.ctx.now()
    }

    /// Moves the server's manual clock forward (the test must have asked
    /// for one in [`AppOptions::manual_clock`]).
    pub fn advance(&self, seconds: i64) {
        self.clock
            .as_ref()
            .expect("this test's server has a manual clock")
            .advance(seconds);
    }

    pub async fn create_user(&self, username: &str, password: &str) -> String {
        let new = portcullis::accounts::NewUser {
            username,
            email: Some("user@example.com"),
            name: Some("Test User"),
            password,
        };
        portcullis::accounts::create_user_async(&self.ctx.db, &new, "test".into(), self.now())
            .await
            .expect("user created")
            .id
    }

    /// The `sub` of the user named `username`.
    pub async fn user_id(&self, username: &str) -> String {
        let name = username.to_owned();
        self.ctx
            .db
            .run(move |conn| portcullis::store::users::find_by_username(conn, &name))
            .await
            .unwrap()
            .expect("the user exists")
            .id
    }

    /// An access token for the admin API, with `scope`, from a client
    /// `ops` registered for `portcullis:admin api:read`.
    pub async fn admin_token(&self, scope: &str) -> String {
        let secret = self
            .create_client(ClientSpec {
                id: "ops",
                grants: &[GrantType::ClientCredentials],
                scope: "portcullis:admin api:read",
                ..Default::default()
            })
            .await
            .unwrap();
        let res = self
            .post_token(
                &[("grant_type", "client_credentials"), ("scope", scope)],
                Some(("ops", &secret)),
            )
            .await;
        assert_eq!(res.status(), 200);
        tokens::TokenResponse::read(res).await.access_token
    }

    /// Registers a confidential client `id` with only the client-credentials
    /// grant; returns its secret.
    pub async fn create_service_client(&self, id: &str) -> String {
        self.create_client(ClientSpec {
            id,
            grants: &[GrantType::ClientCredentials],
            ..Default::default()
        })
        .await
        .unwrap()
    }

    /// Registers a client; returns its secret (None for a public client).
    pub async fn create_client(&self, spec: ClientSpec<'_>) -> Option<String> {
        let new = NewClient {
            client_id: spec.id.to_owned(),
            name: None,
            public: spec.public,
            grant_types: spec.grants.to_vec(),
            redirect_uris: spec.redirect_uris.iter().map(|s| s.to_string()).collect(),
            scope: spec.scope.to_owned(),
            audience: spec.audience.map(str::to_owned),
            signing_alg: spec.alg,
            secret: None,
            consent: spec.consent,
            post_logout_redirect_uris: spec
                .post_logout_redirect_uris
                .iter()
                .map(|s| s.to_string())
                .collect(),
            resources: spec.resources.iter().map(|s| s.to_string()).collect(),
            exchange_audiences: spec
                .exchange_audiences
                .iter()
                .map(|s| s.to_string())
                .collect(),
            exchange_impersonation: spec.exchange_impersonation,
            require_dpop: spec.require_dpop,
            require_par: spec.require_par,
            ..NewClient::default()
        };
        let now = self.now();
        self.ctx
            .db
            .write(move |conn| {
                Ok::<_, portcullis::store::StoreError>(
                    clients::register(conn, new, Default::default(), "test", now)
                        .expect("client registered")
                        .secret,
                )
            })
            .await
            .unwrap()
    }

    /// POSTs a form to `path`, with HTTP Basic client authentication if given.
    pub async fn post_form(
        &self,
        path: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> reqwest::Response {
        let mut req = self.http.post(format!("{}{path}", self.address)).form(form);
        if let Some((id, secret)) = basic {
            req = req.basic_auth(id, Some(secret));
        }
        req.send()
            .await
            .unwrap_or_else(|e| panic!("POST {path} sent: {e}"))
    }

    /// GETs `path` with `token` as the bearer token.
    pub async fn get_with_bearer(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.address))
            .bearer_auth(token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path} sent: {e}"))
    }

    /// Introspects `token` as the client `caller` (HTTP Basic); the answer's JSON.
    pub async fn introspect(&self, token: &str, caller: (&str, &str)) -> Value {
        self.post_form("/introspect", &[("token", token)], Some(caller))
            .await
            .json()
            .await
            .expect("an introspection answer")
    }

    pub async fn post_token(
        &self,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> reqwest::Response {
        self.post_form("/token", form, basic).await
    }

    /// A password grant for `user`, whatever its outcome.
    pub async fn password_grant(
        &self,
        client: (&str, &str),
        user: (&str, &str),
        scope: &str,
    ) -> reqwest::Response {
        self.post_token(
            &[
                ("grant_type", "password"),
                ("username", user.0),
                ("password", user.1),
                ("scope", scope),
            ],
            Some(client),
        )
        .await
    }

    /// A password grant for `user` that must succeed, as raw JSON: for
    /// tests that look at the shape of the answer itself (see
    /// [`TestApp::password_token_pair`] for the typed one).
    pub async fn password_tokens(
        &self,
        client: (&str, &str),
        user: (&str, &str),
        scope: &str,
    ) -> Value {
        let res = self.password_grant(client, user, scope).await;
        assert_eq!(res.status(), 200, "password grant failed");
        res.json().await.unwrap()
    }

    pub async fn jwks(&self) -> JwkSet {
        let res = self
            .http
            .get(format!("{}/.well-known/jwks.json", self.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.expect("JWKS parses as RFC 7517 JSON")
    }

    /// Verifies an access token as a resource server would: the key comes
    /// from the JWKS only, and signature, `typ`, `iss`, `aud` and `exp` are checked.
    pub async fn verify_access_token(&self, token: &str, audience: &str) -> Result<Value, String> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
        if header.typ.as_deref() != Some("at+jwt") {
            return Err(format!("typ is {:?}", header.typ));
        }
        let kid = header.kid.ok_or("no kid")?;
        let jwks = self.jwks().await;
        let jwk = jwks
            .find(&kid)
            .ok_or_else(|| format!("kid {kid} not in the JWKS"))?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
        let mut validation = Validation::new(header.alg);
        validation.set_audience(&[audience]);
        validation.set_issuer(&[&self.address]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map(|d| d.claims)
            .map_err(|e| e.to_string())
    }

    /// Runs the real `portcullis` binary against this app's database.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
        cmd.args(args)
            .env("PORTCULLIS_DATABASE_URL", &self.database_url)
            .env("PORTCULLIS_KEK_FILE", &self.kek_file);
        run_with_stdin(cmd, stdin)
    }
}

/// Runs `cmd` to its end with `stdin` (if any) as its input, and collects
/// what it printed.
pub fn run_with_stdin(mut cmd: Command, stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run portcullis");
    let mut pipe = child.stdin.take().unwrap();
    if let Some(input) = stdin {
        pipe.write_all(input.as_bytes()).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop_postgres_database(&self.database_url);
    }
}

/// Drops a test's PostgreSQL database (no-op for SQLite: the temp dir goes).
pub fn drop_postgres_database(url: &str) {
    let (Ok(base), Some((_, name))) = (
        std::env::var("PORTCULLIS_TEST_POSTGRES_URL"),
        url.split('?').next().unwrap_or(url).rsplit_once('/'),
    ) else {
        return;
    };
    if !url.starts_with("postgres") || !name.starts_with("portcullis_test_") {
        return;
    }
    if let Ok(mut conn) = diesel::PgConnection::establish(&base) {
        // FORCE ends the connections the test's server still holds.
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn);
    }
}

/// Polls `check` every 200 ms until it holds or 15 s have passed.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..75 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("timed out waiting until {what}");
}

/// The payload of a JWT, without checking anything: for tests that have
/// verified the token elsewhere and only look at a claim.
pub fn unverified_claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// An OAuth error answer as (status, `error`), for comparing in one assert.
pub async fn error_of(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.expect("a JSON error body");
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}
