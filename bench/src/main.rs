//! `portcullis-bench`: starts `portcullis serve` on a fresh database,
//! provisions users and clients through the CLI, drives keep-alive load over
//! loopback, checks every response, and prints one table (with the share of
//! the machine's CPU that was idle or stolen by the hypervisor per scenario,
//! and the server's CPU time per request).
//!
//! ```text
//! cargo build --release && cargo run --release -p portcullis-bench -- [options]
//!   --duration SECS       per scenario (default 10)
//!   --concurrency N       virtual users, one keep-alive connection each (default 16)
//!   --scenarios a,b,…     subset to run (default: all; see --list)
//!   --database-url URL    a fresh PostgreSQL database instead of SQLite
//!   --binary PATH         the server (default target/release/portcullis)
//!   --report DIR          write results.json, results.md and chart.svg there
//!   --trace DIR           write every request's start and latency, one CSV
//!                         per scenario (user,start_us,latency_us)
//!   --smoke               2 s per scenario at concurrency 4; exit 1 on any error
//!   --peers a,b           also measure oidc-provider and/or django on the
//!                         scenarios they share, in the same run (npm, PyPI)
//! ```

mod peers;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;

use peers::Target;

const PASSWORD: &str = "benchmark password 1";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Jwks,
    Jwks304,
    Discovery,
    ClientCredentials {
        es256: bool,
    },
    Password,
    /// `openid`: the tokens were bought with the `openid` scope, so every
    /// refresh also signs an ID token (two signatures instead of one).
    Refresh {
        es256: bool,
        openid: bool,
    },
    Introspect,
    AuthCode,
}

struct Scenario {
    name: &'static str,
    kind: Kind,
    /// Half the virtual users run password grants beside this scenario (not
    /// counted): does Argon2id hold up the other endpoints?
    while_hashing: bool,
    /// Concurrency when the run does not set one.
    concurrency: Option<usize>,
}

fn scenarios() -> Vec<Scenario> {
    let s = |name, kind, concurrency| Scenario {
        name,
        kind,
        concurrency,
        while_hashing: false,
    };
    let busy = |name, kind| Scenario {
        name,
        kind,
        concurrency: None,
        while_hashing: true,
    };
    vec![
        s("jwks", Kind::Jwks, None),
        s("jwks-304", Kind::Jwks304, None),
        s("discovery", Kind::Discovery, None),
        s(
            "client_credentials-RS256",
            Kind::ClientCredentials { es256: false },
            None,
        ),
        s(
            "client_credentials-ES256",
            Kind::ClientCredentials { es256: true },
            None,
        ),
        s("password", Kind::Password, None),
        s(
            "refresh_token-RS256",
            Kind::Refresh {
                es256: false,
                openid: true,
            },
            None,
        ),
        s(
            "refresh_token-ES256",
            Kind::Refresh {
                es256: true,
                openid: true,
            },
            None,
        ),
        // A plain OAuth client (no `openid`): access token and refresh token
        // only, the same work as the Django peer's refresh.
        s(
            "refresh_token-RS256-oauth",
            Kind::Refresh {
                es256: false,
                openid: false,
            },
            None,
        ),
        s(
            "refresh_token-ES256-c64",
            Kind::Refresh {
                es256: true,
                openid: true,
            },
            Some(64),
        ),
        s("introspection", Kind::Introspect, None),
        s("authorization_code", Kind::AuthCode, None),
        busy("jwks-while-hashing", Kind::Jwks),
        busy(
            "refresh_token-ES256-while-hashing",
            Kind::Refresh {
                es256: true,
                openid: true,
            },
        ),
    ]
}

struct Options {
    duration: Duration,
    concurrency: usize,
    only: Option<Vec<String>>,
    database_url: Option<String>,
    binary: PathBuf,
    report: Option<PathBuf>,
    trace: Option<PathBuf>,
    smoke: bool,
    peers: Vec<Target>,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        duration: Duration::from_secs(10),
        concurrency: 16,
        only: None,
        database_url: None,
        binary: PathBuf::from("target/release/portcullis"),
        report: None,
        trace: None,
        smoke: false,
        peers: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--duration" => {
                o.duration = Duration::from_secs_f64(
                    value("--duration")?
                        .parse()
                        .map_err(|_| "--duration: seconds")?,
                )
            }
            "--concurrency" => {
                o.concurrency = value("--concurrency")?
                    .parse()
                    .map_err(|_| "--concurrency: a number")?
            }
            "--scenarios" => {
                o.only = Some(
                    value("--scenarios")?
                        .split(',')
                        .map(str::to_owned)
                        .collect(),
                )
            }
            "--database-url" => o.database_url = Some(value("--database-url")?),
            "--binary" => o.binary = PathBuf::from(value("--binary")?),
            "--report" => o.report = Some(PathBuf::from(value("--report")?)),
            "--trace" => o.trace = Some(PathBuf::from(value("--trace")?)),
            "--peers" => {
                o.peers = value("--peers")?
                    .split(',')
                    .map(Target::parse)
                    .collect::<Result<_, _>>()?
            }
            "--smoke" => {
                o.smoke = true;
                o.duration = Duration::from_secs(2);
                o.concurrency = 4;
            }
            "--list" => {
                for s in scenarios() {
                    println!("{}", s.name);
                }
                std::process::exit(0);
            }
            "--help" | "-h" => {
                println!("see the header of bench/src/main.rs, or README.md (Benchmarks)");
                std::process::exit(0);
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

/// The server under test, killed on drop.
struct Server {
    child: Child,
    port: u16,
    dir: PathBuf,
    env: Vec<(String, String)>,
    binary: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(18080)
}

impl Server {
    fn cli(&self, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
        use std::io::Write;
        let mut cmd = Command::new(&self.binary);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.binary.display()))?;
        if let Some(mut pipe) = child.stdin.take() {
            if let Some(input) = stdin {
                pipe.write_all(input.as_bytes())
                    .map_err(|e| e.to_string())?;
            }
        }
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "portcullis {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

fn start_server(o: &Options) -> Result<Server, String> {
    let dir = std::env::temp_dir().join(format!("portcullis-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let port = free_port();
    let database_url = o
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.join("bench.db").display()));
    let env: Vec<(String, String)> = [
        ("PORTCULLIS_DATABASE_URL", database_url),
        ("PORTCULLIS_KEK_FILE", dir.join("kek").display().to_string()),
        ("PORTCULLIS_BIND", format!("127.0.0.1:{port}")),
        ("PORTCULLIS_ISSUER", format!("http://127.0.0.1:{port}")),
        ("PORTCULLIS_LOG", "warn".into()),
        // The benchmark logs in thousands of times with the right password;
        // the brute-force counters would only see successes, but keep them out.
        ("PORTCULLIS_LOGIN_MAX_FAILURES", "0".into()),
        ("PORTCULLIS_LOGIN_SLOW_AFTER", "0".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let mut cmd = Command::new(&o.binary);
    cmd.arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in &env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().map_err(|e| {
        format!(
            "cannot start {}: {e} (run `cargo build --release` first)",
            o.binary.display()
        )
    })?;
    Ok(Server {
        child,
        port,
        dir,
        env,
        binary: o.binary.clone(),
    })
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: String,
    port: u16,
    /// The server said `Connection: close` (gunicorn's sync workers do, on
    /// every response): the next request opens a new connection, as any
    /// client would.
    closing: bool,
}

struct Reply {
    status: StatusCode,
    headers: hyper::HeaderMap,
    body: Bytes,
}

impl Conn {
    async fn open(port: u16) -> Result<Conn, String> {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        Ok(Conn {
            sender,
            host: format!("127.0.0.1:{port}"),
            port,
            closing: false,
        })
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Result<Reply, String> {
        if self.closing {
            *self = Conn::open(self.port).await?;
        }
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if body.is_some() {
            req = req.header("content-type", "application/x-www-form-urlencoded");
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| e.to_string())?;
        let res = self
            .sender
            .send_request(req)
            .await
            .map_err(|e| e.to_string())?;
        let (parts, body) = res.into_parts();
        self.closing = parts
            .headers
            .get("connection")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

fn json(reply: &Reply) -> Result<Value, String> {
    serde_json::from_slice(&reply.body).map_err(|_| format!("{}: not JSON", reply.status))
}

fn expect(reply: &Reply, status: u16) -> Result<(), String> {
    if reply.status.as_u16() == status {
        Ok(())
    } else {
        Err(format!(
            "status {} ({})",
            reply.status,
            String::from_utf8_lossy(&reply.body)
                .chars()
                .take(120)
                .collect::<String>()
        ))
    }
}

/// What the server was provisioned with.
struct Fixture {
    target: Target,
    clients: HashMap<&'static str, String>,
    etag: String,
    /// The JWKS and discovery documents as first fetched and checked: later
    /// answers must be byte for byte the same (cheaper for the load
    /// generator than parsing JSON on every response, and just as strict).
    jwks: Bytes,
    discovery: Bytes,
    access_token: String,
    port: u16,
    /// The server's process: its CPU time (and its children's) is read
    /// around each scenario.
    pid: u32,
}

impl Fixture {
    fn secret(&self, id: &str) -> &str {
        self.clients.get(id).map(String::as_str).unwrap_or("")
    }
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    html[start..].split('"').next().map(str::to_owned)
}

/// State a virtual user carries between requests (its refresh token).
#[derive(Default)]
struct VuState {
    refresh_token: Option<String>,
}

const CALLBACK: &str = "http://127.0.0.1:9/cb";

async fn password_tokens(
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
fn password_client(es256: bool) -> &'static str {
    if es256 {
        "pw-es256"
    } else {
        "pw-rs256"
    }
}

/// The refresh token a virtual user starts its chain with.
async fn first_refresh_token(
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
fn refresh_token_of(tokens: &Value) -> Option<String> {
    tokens["refresh_token"]
        .as_str()
        .or_else(|| tokens["refresh"].as_str())
        .map(str::to_owned)
}

/// One iteration of a scenario; every response is checked.
async fn iteration(
    kind: Kind,
    conn: &mut Conn,
    f: &Fixture,
    state: &mut VuState,
) -> Result<(), String> {
    match kind {
        Kind::Jwks => {
            let path = match f.target {
                Target::OidcProvider => "/jwks",
                _ => "/.well-known/jwks.json",
            };
            let r = conn.send(Method::GET, path, &[], None).await?;
            expect(&r, 200)?;
            if r.body != f.jwks {
                return Err("the JWKS changed".into());
            }
        }
        Kind::Jwks304 => {
            let r = conn
                .send(
                    Method::GET,
                    "/.well-known/jwks.json",
                    &[("if-none-match", &f.etag)],
                    None,
                )
                .await?;
            expect(&r, 304)?;
        }
        Kind::Discovery => {
            let r = conn
                .send(Method::GET, "/.well-known/openid-configuration", &[], None)
                .await?;
            expect(&r, 200)?;
            if r.body != f.discovery {
                return Err("the discovery document changed".into());
            }
        }
        Kind::ClientCredentials { es256 } => {
            let id = if es256 { "cc-es256" } else { "cc-rs256" };
            // oidc-provider grants no scope unless asked.
            let body = match f.target {
                Target::OidcProvider => "grant_type=client_credentials&scope=api",
                _ => "grant_type=client_credentials",
            };
            let r = conn
                .send(
                    Method::POST,
                    "/token",
                    &[("authorization", &basic(id, f.secret(id)))],
                    Some(body.into()),
                )
                .await?;
            expect(&r, 200)?;
            if json(&r)?["access_token"].as_str().is_none() {
                return Err("no access token".into());
            }
        }
        Kind::Password => {
            let tokens = password_tokens(conn, f, password_client(false), "openid").await?;
            let signed = match f.target {
                Target::Django => "access",
                _ => "id_token",
            };
            if tokens[signed].as_str().is_none() {
                return Err(format!("no {signed}"));
            }
        }
        Kind::Refresh { es256, openid } => {
            let id = password_client(es256);
            let current = match state.refresh_token.take() {
                Some(t) => t,
                None => return Err("no refresh token to chain".into()),
            };
            let r = if f.target == Target::Django {
                let body = form(&[("refresh", &current)]);
                conn.send(Method::POST, "/api/token/refresh/", &[], Some(body))
                    .await?
            } else {
                let body = form(&[("grant_type", "refresh_token"), ("refresh_token", &current)]);
                conn.send(
                    Method::POST,
                    "/token",
                    &[("authorization", &basic(id, f.secret(id)))],
                    Some(body),
                )
                .await?
            };
            expect(&r, 200)?;
            let tokens = json(&r)?;
            let next = refresh_token_of(&tokens);
            if next.is_none() {
                return Err("no new refresh token".into());
            }
            if f.target == Target::Portcullis && tokens["id_token"].is_string() != openid {
                return Err(if openid {
                    "no ID token for an openid refresh".into()
                } else {
                    "an ID token without openid".into()
                });
            }
            state.refresh_token = next;
        }
        Kind::Introspect => {
            let body = form(&[("token", &f.access_token)]);
            // oidc-provider introspects its opaque tokens, for the client
            // they were issued to.
            let (path, caller) = match f.target {
                Target::OidcProvider => ("/token/introspection", "cc-opaque"),
                _ => ("/introspect", password_client(false)),
            };
            let r = conn
                .send(
                    Method::POST,
                    path,
                    &[("authorization", &basic(caller, f.secret(caller)))],
                    Some(body),
                )
                .await?;
            expect(&r, 200)?;
            if json(&r)?["active"] != Value::Bool(true) {
                return Err("token not active".into());
            }
        }
        Kind::AuthCode => auth_code_flow(conn, f).await?,
    }
    Ok(())
}

/// Login + code + token, as a browser and a client would.
async fn auth_code_flow(conn: &mut Conn, f: &Fixture) -> Result<(), String> {
    let verifier = "bench-verifier-0123456789-0123456789-0123456789";
    let challenge = {
        use sha2::Digest;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()))
    };
    let authorize = format!(
        "/authorize?response_type=code&client_id=web&redirect_uri={}&scope=openid&state=s&code_challenge={challenge}&code_challenge_method=S256",
        enc(CALLBACK)
    );
    let r = conn.send(Method::GET, &authorize, &[], None).await?;
    expect(&r, 303)?;
    let location = header(&r, "location")?;
    let flow = cookie(&r, "portcullis_flow").ok_or("no flow cookie")?;
    let login_path = location
        .split_once(&format!("127.0.0.1:{}", f.port))
        .map(|(_, p)| p.to_owned())
        .ok_or("bad location")?;
    let flow_cookie = format!("portcullis_flow={flow}");
    let page = conn
        .send(Method::GET, &login_path, &[("cookie", &flow_cookie)], None)
        .await?;
    expect(&page, 200)?;
    let html = String::from_utf8_lossy(&page.body);
    let (request, csrf) = (
        hidden(&html, "request").ok_or("no request id")?,
        hidden(&html, "csrf_token").ok_or("no csrf")?,
    );
    let body = form(&[
        ("request", &request),
        ("csrf_token", &csrf),
        ("username", "bench"),
        ("password", PASSWORD),
    ]);
    let r = conn
        .send(
            Method::POST,
            "/login",
            &[("cookie", &flow_cookie)],
            Some(body),
        )
        .await?;
    expect(&r, 303)?;
    let session = cookie(&r, "portcullis_session").ok_or("no session cookie")?;
    let resume = header(&r, "location")?;
    let resume_path = resume
        .split_once(&format!("127.0.0.1:{}", f.port))
        .map(|(_, p)| p.to_owned())
        .ok_or("bad location")?;
    let cookies = format!("{flow_cookie}; portcullis_session={session}");
    let r = conn
        .send(Method::GET, &resume_path, &[("cookie", &cookies)], None)
        .await?;
    expect(&r, 303)?;
    let code = query_param(&header(&r, "location")?, "code").ok_or("no code")?;
    let body = form(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", verifier),
    ]);
    let r = conn
        .send(
            Method::POST,
            "/token",
            &[("authorization", &basic("web", f.secret("web")))],
            Some(body),
        )
        .await?;
    expect(&r, 200)?;
    Ok(())
}

fn header(r: &Reply, name: &str) -> Result<String, String> {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| format!("no {name} header"))
}

fn cookie(r: &Reply, name: &str) -> Option<String> {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            let (k, rest) = c.split_once('=')?;
            (k == name).then(|| rest.split(';').next().unwrap_or("").to_owned())
        })
}

struct Outcome {
    server: Target,
    name: String,
    concurrency: usize,
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// The whole machine's CPU over the measured window, when the OS says.
    cpu: Option<CpuShare>,
    /// CPU time the server's processes spent per counted request, in µs
    /// (Linux). Unlike requests/s it barely moves when the hypervisor
    /// steals time, so it compares builds on a noisy host.
    server_cpu_us: Option<f64>,
    /// With `--trace`, every counted request: user, start (µs after the
    /// clock started) and latency (µs); empty otherwise.
    trace: Vec<(usize, u32, u32)>,
}

/// How long each scenario is measured, and whether every request's timing
/// is kept (`--trace`).
#[derive(Clone, Copy)]
struct Window {
    duration: Duration,
    keep_trace: bool,
}

async fn run_scenario(
    s: &Scenario,
    concurrency: usize,
    window: Window,
    f: Arc<Fixture>,
) -> Outcome {
    let Window {
        duration,
        keep_trace,
    } = window;
    // The clock starts once every user is connected and holds its first
    // refresh token: the password grants that buy them (Argon2id, 20 ms
    // each) would otherwise share the first fraction of a second with the
    // measured requests and land in their p99.
    let ready = Arc::new(tokio::sync::Barrier::new(concurrency + 1));
    let epoch = Instant::now();
    let micros = |d: Duration| d.as_micros().min(u32::MAX as u128) as u32;
    let mut tasks = Vec::with_capacity(concurrency);
    for vu in 0..concurrency {
        let f = f.clone();
        let ready = ready.clone();
        // With while_hashing, even-numbered users hash passwords, uncounted.
        let background = s.while_hashing && vu % 2 == 0;
        let kind = if background { Kind::Password } else { s.kind };
        tasks.push(tokio::spawn(async move {
            // (start after `epoch`, latency), in µs.
            let mut latencies: Vec<(u32, u32)> = Vec::with_capacity(1 << 14);
            let (mut errors, mut first_error) = (0u64, None);
            let mut state = VuState::default();
            let setup = async {
                let mut conn = Conn::open(f.port).await?;
                if let Kind::Refresh { es256, openid } = kind {
                    state.refresh_token = first_refresh_token(&mut conn, &f, es256, openid).await?;
                }
                Ok::<_, String>(conn)
            }
            .await;
            ready.wait().await;
            let mut conn = match setup {
                Ok(c) => c,
                Err(e) => return (latencies, 1, Some(e)),
            };
            let deadline = Instant::now() + duration;
            while Instant::now() < deadline {
                let started = Instant::now();
                match iteration(kind, &mut conn, &f, &mut state).await {
                    Ok(()) => latencies.push((micros(started - epoch), micros(started.elapsed()))),
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                        // A broken chain or connection: start again cleanly.
                        match Conn::open(f.port).await {
                            Ok(c) => conn = c,
                            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                        }
                        if let Kind::Refresh { es256, openid } = kind {
                            if let Ok(t) = first_refresh_token(&mut conn, &f, es256, openid).await {
                                state.refresh_token = t;
                            }
                        }
                    }
                }
            }
            if background {
                return (Vec::new(), errors, first_error);
            }
            (latencies, errors, first_error)
        }));
    }
    ready.wait().await;
    let started = Instant::now();
    let cpu_before = cpu_ticks();
    let server_before = process_tree_ticks(f.pid);
    let clock_start = micros(started - epoch);
    let mut all = Vec::new();
    let mut trace = Vec::new();
    let (mut errors, mut first_error) = (0, None);
    for (vu, t) in tasks.into_iter().enumerate() {
        if let Ok((lat, e, fe)) = t.await {
            all.extend(lat.iter().map(|&(_, latency)| latency));
            if keep_trace {
                trace.extend(
                    lat.iter()
                        .map(|&(start, latency)| (vu, start.saturating_sub(clock_start), latency)),
                );
            }
            errors += e;
            if first_error.is_none() {
                first_error = fe;
            }
        }
    }
    let elapsed = started.elapsed().max(duration).as_secs_f64();
    let cpu = cpu_before
        .zip(cpu_ticks())
        .and_then(|(b, a)| a.share_since(b));
    let server_cpu_us = server_before
        .zip(process_tree_ticks(f.pid))
        .filter(|_| !all.is_empty())
        .map(|(b, a)| a.saturating_sub(b) as f64 * 1e6 / CLOCK_TICKS_PER_SECOND / all.len() as f64);
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map(|v| *v as f64 / 1000.0)
            .unwrap_or(0.0)
    };
    Outcome {
        server: f.target,
        name: s.name.to_owned(),
        concurrency,
        ok: all.len() as u64,
        errors,
        first_error,
        rps: all.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        cpu,
        server_cpu_us,
        trace,
    }
}

/// The machine's CPU time since boot, in clock ticks (Linux `/proc/stat`).
#[derive(Clone, Copy, Debug, PartialEq)]
struct CpuTicks {
    total: u64,
    /// Idle and waiting for I/O: no thread had work.
    idle: u64,
    /// "steal": a virtual CPU had work, but the hypervisor ran something
    /// else on the physical core.
    steal: u64,
}

#[derive(Clone, Copy, Debug)]
struct CpuShare {
    idle_pct: f64,
    stolen_pct: f64,
}

impl CpuTicks {
    /// Parses the first line of `/proc/stat`: `cpu user nice system idle
    /// iowait irq softirq steal …`.
    fn parse(stat: &str) -> Option<CpuTicks> {
        let fields = stat.lines().next()?.strip_prefix("cpu ")?;
        let ticks: Vec<u64> = fields
            .split_whitespace()
            .take(8)
            .map(|f| f.parse().ok())
            .collect::<Option<_>>()?;
        let [_user, _nice, _system, idle, iowait, _irq, _softirq, steal] = ticks[..] else {
            return None;
        };
        Some(CpuTicks {
            total: ticks.iter().sum(),
            idle: idle + iowait,
            steal,
        })
    }

    fn share_since(self, before: CpuTicks) -> Option<CpuShare> {
        let total = self.total.checked_sub(before.total).filter(|&t| t > 0)? as f64;
        let pct = |now: u64, then: u64| 100.0 * now.saturating_sub(then) as f64 / total;
        Some(CpuShare {
            idle_pct: pct(self.idle, before.idle),
            stolen_pct: pct(self.steal, before.steal),
        })
    }
}

/// A table cell: the value to `decimals` places, or a dash where the OS
/// gave none.
fn cell(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{v:.decimals$}"))
}

fn cpu_ticks() -> Option<CpuTicks> {
    CpuTicks::parse(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// `USER_HZ`: the unit of `/proc` CPU times, 100 on every Linux port the
/// benchmark runs on.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// From one `/proc/PID/stat`: (pid, parent pid, user + system ticks). The
/// command name sits in parentheses and may hold spaces, so fields are
/// counted after its closing one.
fn parse_process_stat(stat: &str) -> Option<(u32, u32, u64)> {
    let (head, rest) = stat.rsplit_once(')')?;
    let pid = head.split_whitespace().next()?.parse().ok()?;
    // After the name: state ppid pgrp session tty_nr tpgid flags minflt
    // cminflt majflt cmajflt utime stime …
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((pid, ppid, utime + stime))
}

/// The CPU ticks of `root` and every process below it: gunicorn's workers
/// and a shell's children count with the process the benchmark started.
fn tree_ticks(processes: &[(u32, u32, u64)], root: u32) -> u64 {
    let mut members = vec![root];
    let mut total = 0;
    while let Some(pid) = members.pop() {
        for &(child, parent, ticks) in processes {
            if child == pid {
                total += ticks;
            }
            if parent == pid && child != pid {
                members.push(child);
            }
        }
    }
    total
}

fn process_tree_ticks(root: u32) -> Option<u64> {
    let processes: Vec<(u32, u32, u64)> = std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter_map(|stat| parse_process_stat(&stat))
        .collect();
    processes
        .iter()
        .any(|&(pid, _, _)| pid == root)
        .then(|| tree_ticks(&processes, root))
}

fn provision(server: &Server) -> Result<HashMap<&'static str, String>, String> {
    server.cli(
        &["user", "add", "bench", "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
    )?;
    let mut clients = HashMap::new();
    let specs: [(&str, &[&str]); 6] = [
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
    ];
    for (id, flags) in specs {
        let mut args = vec!["client", "add", id, "--json"];
        args.extend_from_slice(flags);
        let out: Value =
            serde_json::from_str(&server.cli(&args, None)?).map_err(|e| e.to_string())?;
        clients.insert(id, out["client_secret"].as_str().unwrap_or("").to_owned());
    }
    Ok(clients)
}

async fn wait_ready(port: u16) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(mut c) = Conn::open(port).await {
            if let Ok(r) = c.send(Method::GET, "/readyz", &[], None).await {
                if r.status == 200 {
                    return Ok(());
                }
            }
        }
        if Instant::now() > deadline {
            return Err("the server did not become ready in 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    format!("{cores} cores, {cpu}")
}

fn table(outcomes: &[Outcome]) -> String {
    let mut out = String::from("| scenario | concurrency | requests/s | p50 ms | p99 ms | errors | CPU idle % | CPU stolen % | server CPU µs/request |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for o in outcomes.iter().filter(|o| o.server == Target::Portcullis) {
        let idle = cell(o.cpu.map(|c| c.idle_pct), 1);
        let stolen = cell(o.cpu.map(|c| c.stolen_pct), 1);
        let server_cpu = cell(o.server_cpu_us, 0);
        out.push_str(&format!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {} | {idle} | {stolen} | {server_cpu} |\n",
            o.name, o.concurrency, o.rps, o.p50_ms, o.p99_ms, o.errors
        ));
    }
    out
}

/// Portcullis beside each peer on the scenarios they share, with the
/// factor it is ahead by and the factor issue #6 asks for.
fn side_by_side(outcomes: &[Outcome]) -> String {
    let stolen = |o: &Outcome| cell(o.cpu.map(|c| c.stolen_pct), 1);
    let mut out = String::from("| scenario | Portcullis req/s (p99 ms) | peer | peer req/s (p99 ms) | ratio | target | CPU stolen % (ours / peer) | server CPU µs/request (ours / peer) |\n|---|---:|---|---:|---:|---:|---:|---:|\n");
    for peer in outcomes.iter().filter(|o| o.server != Target::Portcullis) {
        let Some(ours) = outcomes
            .iter()
            .find(|o| o.server == Target::Portcullis && o.name == peer.name)
        else {
            continue;
        };
        let target = peer
            .server
            .comparisons()
            .iter()
            .find(|(name, _)| *name == peer.name)
            .and_then(|(_, t)| *t);
        let ratio = if peer.rps > 0.0 {
            ours.rps / peer.rps
        } else {
            f64::INFINITY
        };
        out.push_str(&format!(
            "| {} | {:.0} ({:.2}) | {} | {:.0} ({:.2}){} | {:.1}× | {} | {} / {} | {} / {} |\n",
            peer.name,
            ours.rps,
            ours.p99_ms,
            peer.server.label(),
            peer.rps,
            peer.p99_ms,
            if peer.errors > 0 {
                format!(", {} errors", peer.errors)
            } else {
                String::new()
            },
            ratio,
            target
                .map(|t| format!("≥ {t}×"))
                .unwrap_or_else(|| "—".into()),
            stolen(ours),
            stolen(peer),
            cell(ours.server_cpu_us, 0),
            cell(peer.server_cpu_us, 0),
        ));
    }
    out
}

/// A horizontal bar chart of requests/s, log scale, as SVG; each peer's bar
/// sits under Portcullis's bar for the same scenario.
fn chart(outcomes: &[Outcome]) -> String {
    let mut rows: Vec<&Outcome> = Vec::new();
    for ours in outcomes.iter().filter(|o| o.server == Target::Portcullis) {
        rows.push(ours);
        rows.extend(
            outcomes
                .iter()
                .filter(|o| o.server != Target::Portcullis && o.name == ours.name),
        );
    }
    let (width, row, left) = (900.0, 28.0, 270.0);
    let height = 60.0 + row * rows.len() as f64;
    let max = rows
        .iter()
        .map(|o| o.rps)
        .fold(1.0_f64, f64::max)
        .log10()
        .ceil()
        .max(1.0);
    let scale = |v: f64| {
        if v <= 1.0 {
            0.0
        } else {
            v.log10() / max * (width - left - 90.0)
        }
    };
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"13\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"10\" y=\"22\" font-size=\"15\" font-weight=\"bold\">Requests per second by scenario (log scale); peers in grey and orange</text>\n"
    );
    for (i, o) in rows.iter().enumerate() {
        let y = 40.0 + row * i as f64;
        let w = scale(o.rps);
        let (label, colour) = match o.server {
            Target::Portcullis => (format!("{} (c={})", o.name, o.concurrency), "#1a56c4"),
            Target::OidcProvider => (format!("oidc-provider {}", o.name), "#8a8a8a"),
            Target::Django => (format!("Django+simplejwt {}", o.name), "#c77c1a"),
        };
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{label}</text>\n<rect x=\"{left}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"{colour}\"/>\n<text x=\"{}\" y=\"{}\">{:.0}</text>\n",
            left - 8.0,
            y + 15.0,
            row - 8.0,
            left + w + 6.0,
            y + 15.0,
            o.rps
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

/// One CSV per scenario and server, for looking at the latency distribution
/// beyond p50 and p99 (per user, over time).
fn write_traces(dir: &Path, outcomes: &[Outcome]) -> Result<(), String> {
    use std::fmt::Write as _;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for o in outcomes {
        let mut csv = String::from("user,start_us,latency_us\n");
        for (user, start, latency) in &o.trace {
            let _ = writeln!(csv, "{user},{start},{latency}");
        }
        let server = match o.server {
            Target::Portcullis => String::new(),
            peer => format!("{}-", peer.label()),
        };
        let path = dir.join(format!("{server}{}.csv", o.name));
        std::fs::write(&path, csv).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

fn write_report(dir: &Path, outcomes: &[Outcome], header: &str) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let rows: Vec<Value> = outcomes
        .iter()
        .map(|o| serde_json::json!({"server": o.server.label(), "scenario": o.name, "concurrency": o.concurrency, "requests_per_second": o.rps,
                                   "p50_ms": o.p50_ms, "p99_ms": o.p99_ms, "ok": o.ok, "errors": o.errors,
                                   "cpu_idle_pct": o.cpu.map(|c| c.idle_pct), "cpu_stolen_pct": o.cpu.map(|c| c.stolen_pct),
                                   "server_cpu_us_per_request": o.server_cpu_us}))
        .collect();
    std::fs::write(
        dir.join("results.json"),
        serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(
        dir.join("results.md"),
        if outcomes.iter().any(|o| o.server != Target::Portcullis) {
            format!(
                "{header}\n\n{}\nSide by side, same run, same load generator:\n\n{}",
                table(outcomes),
                side_by_side(outcomes)
            )
        } else {
            format!("{header}\n\n{}", table(outcomes))
        },
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(dir.join("chart.svg"), chart(outcomes)).map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(clean) if clean => std::process::ExitCode::SUCCESS,
        Ok(_) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<bool, String> {
    let o = parse_args()?;
    let server = start_server(&o)?;
    wait_ready(server.port).await?;
    let clients = provision(&server)?;
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
        pid: server.child.id(),
    };
    let tokens = password_tokens(&mut conn, &fixture, password_client(false), "openid").await?;
    fixture.access_token = tokens["access_token"].as_str().unwrap_or("").to_owned();
    let fixture = Arc::new(fixture);

    let backend = if o.database_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let header = format!(
        "Machine: {}. Backend: {backend}. {} s per scenario, load generator on the same machine (keep-alive HTTP/1.1, one connection per virtual user).",
        machine(),
        o.duration.as_secs_f64()
    );
    println!("{header}");
    let window = Window {
        duration: o.duration,
        keep_trace: o.trace.is_some(),
    };
    let mut outcomes = Vec::new();
    for s in scenarios() {
        if o.only
            .as_ref()
            .is_some_and(|only| !only.iter().any(|n| n == s.name))
        {
            continue;
        }
        let concurrency = if o.smoke {
            o.concurrency
        } else {
            s.concurrency.unwrap_or(o.concurrency)
        };
        let outcome = run_scenario(&s, concurrency, window, fixture.clone()).await;
        print_outcome(&outcome);
        outcomes.push(outcome);
    }
    // The peers get the machine to themselves too.
    drop(server);
    for &target in &o.peers {
        let cache = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("target"))
            .join("bench-peers");
        // Absolute: the Django script runs from its data directory.
        std::fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
        let cache = cache
            .canonicalize()
            .map_err(|e| format!("{}: {e}", cache.display()))?;
        let peer = peers::start(target, &cache).await?;
        let fixture = Arc::new(peer_fixture(target, peer.port, peer.pid()).await?);
        for s in scenarios() {
            let Some(ours) = outcomes
                .iter()
                .find(|o| o.server == Target::Portcullis && o.name == s.name)
            else {
                continue;
            };
            if !target.comparisons().iter().any(|(name, _)| *name == s.name) {
                continue;
            }
            let concurrency = ours.concurrency;
            let outcome = run_scenario(&s, concurrency, window, fixture.clone()).await;
            print_outcome(&outcome);
            outcomes.push(outcome);
        }
    }
    println!("\n{}", table(&outcomes));
    if !o.peers.is_empty() {
        println!("{}", side_by_side(&outcomes));
    }
    if let Some(dir) = &o.report {
        write_report(dir, &outcomes, &header)?;
    }
    if let Some(dir) = &o.trace {
        write_traces(dir, &outcomes)?;
    }
    let clean = outcomes.iter().all(|o| o.errors == 0 && o.ok > 0);
    Ok(clean || !o.smoke)
}

fn print_outcome(outcome: &Outcome) {
    let name = match outcome.server {
        Target::Portcullis => outcome.name.clone(),
        peer => format!("{} {}", peer.label(), outcome.name),
    };
    println!(
        "{:<40} c={:<3} {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  errors {}{}{}{}",
        name,
        outcome.concurrency,
        outcome.rps,
        outcome.p50_ms,
        outcome.p99_ms,
        outcome.errors,
        outcome
            .cpu
            .map(|c| format!(
                "  CPU idle {:.1} %, stolen {:.1} %",
                c.idle_pct, c.stolen_pct
            ))
            .unwrap_or_default(),
        outcome
            .server_cpu_us
            .map(|us| format!("  server CPU {us:.0} µs/req"))
            .unwrap_or_default(),
        outcome
            .first_error
            .as_deref()
            .map(|e| format!("  (first: {e})"))
            .unwrap_or_default()
    );
}

/// What a peer was configured with (`bench/peers/*`), plus a token for its
/// introspection scenario.
async fn peer_fixture(target: Target, port: u16, pid: u32) -> Result<Fixture, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_cpu_is_read_from_the_process_tree() {
        // A command name with spaces and a parenthesis in it.
        let stat = "4242 (tokio (x) 1) S 4200 4242 4242 0 -1 4194560 100 0 0 0 \
                    731 269 0 0 20 0 9 0 1234 0 0";
        assert_eq!(parse_process_stat(stat), Some((4242, 4200, 1000)));
        assert_eq!(parse_process_stat("4242 (cut short) S 1"), None);
        assert_eq!(parse_process_stat("no parenthesis"), None);
        // gunicorn: a master (10) with two workers (11, 12), one of which
        // has a child (13); 20 is a stranger, 1 the master's parent.
        let processes = [
            (1, 0, 1_000),
            (10, 1, 5),
            (11, 10, 100),
            (12, 10, 200),
            (13, 12, 7),
            (20, 1, 50_000),
        ];
        assert_eq!(tree_ticks(&processes, 10), 312);
        assert_eq!(tree_ticks(&processes, 12), 207);
        assert_eq!(tree_ticks(&processes, 99), 0);
        // This process exists, with some CPU time spent by now.
        assert!(process_tree_ticks(std::process::id()).is_some());
        assert_eq!(process_tree_ticks(u32::MAX), None);
    }

    #[test]
    fn cpu_shares_come_from_proc_stat() {
        let before = CpuTicks::parse("cpu  1000 0 200 700 50 0 30 20 0 0\ncpu0 1 2 3\n").unwrap();
        assert_eq!(
            before,
            CpuTicks {
                total: 2000,
                idle: 750,
                steal: 20
            }
        );
        let after = CpuTicks::parse("cpu  1600 0 300 800 50 0 30 220 0 0").unwrap();
        let share = after.share_since(before).unwrap();
        // 1,000 ticks passed: 100 idle, 200 stolen.
        assert!((share.idle_pct - 10.0).abs() < 1e-9);
        assert!((share.stolen_pct - 20.0).abs() < 1e-9);
        assert!(before.share_since(before).is_none(), "no time passed");
        assert!(CpuTicks::parse("cpu0 1 2 3 4 5 6 7 8").is_none());
        assert!(
            CpuTicks::parse("cpu  1 2 3").is_none(),
            "an old kernel without steal"
        );
    }
}
