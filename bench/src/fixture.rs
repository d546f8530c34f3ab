//! What each server is set up with before the clock starts: Portcullis is
//! provisioned through its own CLI, the peers come configured
//! (`bench/peers/*`); both yield a [`Fixture`] the scenarios read. Also the
//! token requests that set up a scenario (a virtual user's first refresh
//! token, the introspection token).

use std::collections::HashMap;

use bytes::Bytes;
use hyper::Method;
use serde_json::Value;

use crate::http::{basic, expect, form, header, json, Conn, Reply};
use crate::peers::Target;
use crate::scenarios::{device_code, private_key_jwt, token_exchange};
use crate::server::Server;

/// The benchmark user's password; the peers are configured with it too.
pub const PASSWORD: &str = "benchmark password 1";

/// The redirect URI of the authorization-code client: nothing listens
/// there, the benchmark reads the code from the redirect itself.
pub const CALLBACK: &str = "http://127.0.0.1:9/cb";

/// The authorization-code client every login of which needs a second
/// factor (`--require-mfa`): the TOTP scenario's people enrol through it.
pub const MFA_CLIENT: &str = "web-mfa";

/// A client-credentials client with the admin API's scope: setup creates
/// the TOTP scenario's people through `POST /admin/users`.
pub const ADMIN_CLIENT: &str = "ops";

/// What the server was provisioned with.
#[derive(Clone)]
pub struct Fixture {
    pub target: Target,
    pub clients: HashMap<&'static str, String>,
    pub etag: String,
    /// The JWKS and discovery documents as first fetched and checked: later
    /// answers must be byte for byte the same (cheaper for the load
    /// generator than parsing JSON on every response, and just as strict).
    pub jwks: Bytes,
    pub discovery: Bytes,
    pub access_token: String,
    pub port: u16,
    /// The issuer, which prefixes the `Location` of the server's redirects
    /// to itself (the login page, the resumed request).
    pub issuer: String,
    /// The server's process: its CPU time (and its children's) is read
    /// around each scenario.
    pub pid: u32,
}

impl Fixture {
    pub fn secret(&self, id: &str) -> &str {
        self.clients.get(id).map(String::as_str).unwrap_or("")
    }

    /// The path of a redirect to the server itself (`{issuer}/login?…`).
    pub fn path_of<'a>(&self, location: &'a str) -> Result<&'a str, String> {
        location
            .strip_prefix(&self.issuer)
            .filter(|p| p.starts_with('/'))
            .ok_or_else(|| format!("a redirect outside {}: {location}", self.issuer))
    }
}

/// Provisions the freshly started server (a user, one client per
/// scenario), fetches the documents the scenarios compare against, and
/// buys the token the introspection scenario asks about.
pub async fn portcullis_fixture(server: &Server) -> Result<Fixture, String> {
    let clients = provision(server)?;
    let mut conn = Conn::open(server.port).await?;
    let (jwks, discovery) = documents(&mut conn, "/.well-known/jwks.json").await?;
    let etag = header(&jwks, "etag")?;
    let jwks = jwks.body;
    let mut fixture = Fixture {
        target: Target::Portcullis,
        clients,
        etag,
        jwks,
        discovery,
        access_token: String::new(),
        port: server.port,
        issuer: server.issuer.clone(),
        pid: server.pid(),
    };
    let tokens = password_tokens(&mut conn, &fixture, password_client(false), "openid").await?;
    fixture.access_token = tokens["access_token"].as_str().unwrap_or("").to_owned();
    Ok(fixture)
}

/// The benchmark user and one client per kind of token, through the
/// server's own CLI; returns each client's secret.
fn provision(server: &Server) -> Result<HashMap<&'static str, String>, String> {
    server.cli(
        &["user", "add", "bench", "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
    )?;
    let mut clients = HashMap::new();
    let specs: [(&str, &[&str]); 13] = [
        (
            "cc-rs256",
            &[
                "--grant-types",
                "client_credentials",
                "--scope",
                "api",
                "--signing-alg",
                "RS256",
            ],
        ),
        (
            "cc-es256",
            &[
                "--grant-types",
                "client_credentials",
                "--scope",
                "api",
                "--signing-alg",
                "ES256",
            ],
        ),
        (
            "cc-ps256",
            &[
                "--grant-types",
                "client_credentials",
                "--scope",
                "api",
                "--signing-alg",
                "PS256",
            ],
        ),
        (
            "cc-eddsa",
            &[
                "--grant-types",
                "client_credentials",
                "--scope",
                "api",
                "--signing-alg",
                "EdDSA",
            ],
        ),
        (
            password_client(false),
            &[
                "--grant-types",
                "password,refresh_token",
                "--signing-alg",
                "RS256",
            ],
        ),
        (
            password_client(true),
            &[
                "--grant-types",
                "password,refresh_token",
                "--signing-alg",
                "ES256",
            ],
        ),
        (
            "rs",
            &["--grant-types", "client_credentials", "--scope", "api"],
        ),
        (
            "web",
            &[
                "--grant-types",
                "authorization_code,refresh_token",
                "--redirect-uri",
                CALLBACK,
            ],
        ),
        (
            MFA_CLIENT,
            &[
                "--grant-types",
                "authorization_code",
                "--redirect-uri",
                CALLBACK,
                "--require-mfa",
            ],
        ),
        (
            ADMIN_CLIENT,
            &[
                "--grant-types",
                "client_credentials",
                "--scope",
                "portcullis:admin",
            ],
        ),
        // Token exchange: the user logs in at `app`, whose tokens are for
        // svc-a; svc-a trades them for tokens for svc-b.
        (
            token_exchange::SUBJECT_CLIENT,
            &[
                "--grant-types",
                "password",
                "--audience",
                token_exchange::EXCHANGER,
                "--signing-alg",
                "ES256",
            ],
        ),
        (
            token_exchange::EXCHANGER,
            &[
                "--grant-types",
                "token_exchange,client_credentials",
                "--exchange-audience",
                token_exchange::NEXT_AUDIENCE,
                "--exchange-impersonation",
                "--signing-alg",
                "ES256",
            ],
        ),
        (
            device_code::DEVICE_CLIENT,
            &["--public", "--grant-types", "device_code"],
        ),
    ];
    for (id, flags) in specs {
        let mut args = vec!["client", "add", id, "--json"];
        args.extend_from_slice(flags);
        let out: Value =
            serde_json::from_str(&server.cli(&args, None)?).map_err(|e| e.to_string())?;
        clients.insert(id, out["client_secret"].as_str().unwrap_or("").to_owned());
    }
    let (id, private_key) = private_key_jwt::provision(server)?;
    clients.insert(id, private_key);
    Ok(clients)
}

/// What a peer was configured with (`bench/peers/*`), plus a token for its
/// introspection scenario.
pub async fn peer_fixture(target: Target, port: u16, pid: u32) -> Result<Fixture, String> {
    let (jwks, discovery) = match target {
        Target::OidcProvider => {
            let (jwks, discovery) = documents(&mut Conn::open(port).await?, "/jwks").await?;
            (jwks.body, discovery)
        }
        _ => (Bytes::new(), Bytes::new()),
    };
    let mut f = Fixture {
        target,
        clients: HashMap::new(),
        etag: String::new(),
        jwks,
        discovery,
        access_token: String::new(),
        port,
        issuer: format!("http://127.0.0.1:{port}"),
        pid,
    };
    if target == Target::OidcProvider {
        for id in ["cc-rs256", "cc-es256", "cc-opaque"] {
            f.clients.insert(id, target.client_secret(id));
        }
        let mut conn = Conn::open(port).await?;
        let r = conn
            .send(
                Method::POST,
                "/token",
                &[("authorization", &basic("cc-opaque", f.secret("cc-opaque")))],
                Some("grant_type=client_credentials&scope=api".into()),
            )
            .await?;
        expect(&r, 200)?;
        f.access_token = json(&r)?["access_token"]
            .as_str()
            .ok_or("oidc-provider issued no access token")?
            .to_owned();
    }
    Ok(f)
}

/// The JWKS answer and the discovery document, checked once: keys are
/// there, and the issuer.
async fn documents(conn: &mut Conn, jwks_path: &str) -> Result<(Reply, Bytes), String> {
    let jwks = conn.send(Method::GET, jwks_path, &[], None).await?;
    expect(&jwks, 200)?;
    if json(&jwks)?["keys"].as_array().is_none_or(|k| k.is_empty()) {
        return Err(format!("{jwks_path}: no keys"));
    }
    let discovery = conn
        .send(Method::GET, "/.well-known/openid-configuration", &[], None)
        .await?;
    expect(&discovery, 200)?;
    if json(&discovery)?["issuer"].as_str().is_none() {
        return Err("discovery: no issuer".into());
    }
    Ok((jwks, discovery.body))
}

/// A password grant for the benchmark user (simplejwt's token view for
/// Django); the token response.
pub async fn password_tokens(
    conn: &mut Conn,
    f: &Fixture,
    client: &str,
    scope: &str,
) -> Result<Value, String> {
    if f.target == Target::Django {
        // simplejwt's own dialect: no client, `access` and `refresh` back.
        let body = form(&[("username", "bench"), ("password", PASSWORD)]);
        let reply = conn
            .send(Method::POST, "/api/token/", &[], Some(body))
            .await?;
        expect(&reply, 200)?;
        return json(&reply);
    }
    let body = form(&[
        ("grant_type", "password"),
        ("username", "bench"),
        ("password", PASSWORD),
        ("scope", scope),
    ]);
    let reply = conn
        .send(
            Method::POST,
            "/token",
            &[("authorization", &basic(client, f.secret(client)))],
            Some(body),
        )
        .await?;
    expect(&reply, 200)?;
    json(&reply)
}

/// The password-grant client whose tokens are signed with ES256 or RS256.
pub fn password_client(es256: bool) -> &'static str {
    if es256 {
        "pw-es256"
    } else {
        "pw-rs256"
    }
}

/// The refresh token a virtual user starts its chain with.
pub async fn first_refresh_token(
    conn: &mut Conn,
    f: &Fixture,
    es256: bool,
    openid: bool,
) -> Result<Option<String>, String> {
    let client = password_client(es256);
    // Without `openid` the password grant is plain OAuth: no ID token.
    let scope = if openid { "openid" } else { "profile" };
    Ok(refresh_token_of(
        &password_tokens(conn, f, client, scope).await?,
    ))
}

/// The refresh token in a token response (simplejwt calls it `refresh`).
pub fn refresh_token_of(tokens: &Value) -> Option<String> {
    tokens["refresh_token"]
        .as_str()
        .or_else(|| tokens["refresh"].as_str())
        .map(str::to_owned)
}

/// An access token for the admin API (`portcullis:admin`).
pub async fn admin_token(conn: &mut Conn, f: &Fixture) -> Result<String, String> {
    let r = conn
        .send(
            Method::POST,
            "/token",
            &[(
                "authorization",
                &basic(ADMIN_CLIENT, f.secret(ADMIN_CLIENT)),
            )],
            Some("grant_type=client_credentials&scope=portcullis%3Aadmin".into()),
        )
        .await?;
    expect(&r, 200)?;
    Ok(json(&r)?["access_token"]
        .as_str()
        .ok_or("no admin token")?
        .to_owned())
}

/// A person with the benchmark password, through `POST /admin/users` (a
/// CLI process per person would take longer than the Argon2id hash).
pub async fn create_user(conn: &mut Conn, admin_token: &str, name: &str) -> Result<(), String> {
    let body = serde_json::json!({"username": name, "password": PASSWORD}).to_string();
    let r = conn
        .send(
            Method::POST,
            "/admin/users",
            &[
                ("authorization", &format!("Bearer {admin_token}")),
                ("content-type", "application/json"),
            ],
            Some(body),
        )
        .await?;
    expect(&r, 201)
}
