//! The real binary as operators run it: its logs hold no secret, SIGTERM
//! drains in-flight requests, and a database outage is survived.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::browser::{hidden, location, query_param, Browser, CALLBACK};
use crate::helpers::cluster::{provision, token, Cluster};
use crate::helpers::PASSWORD;

#[tokio::test]
async fn the_logs_hold_no_password_secret_or_token() {
    let mut cluster = Cluster::new(&[
        ("PORTCULLIS_LOG", "debug"),
        ("PORTCULLIS_LOG_FORMAT", "json"),
    ]);
    cluster.cli(&["migrate"], None);
    let secret = provision(&cluster);
    let ops: Value = serde_json::from_str(&cluster.cli(
        &[
            "client",
            "add",
            "ops",
            "--grant-types",
            "client_credentials",
            "--scope",
            "portcullis:admin",
            "--json",
        ],
        None,
    ))
    .unwrap();
    let ops_secret = ops["client_secret"].as_str().unwrap().to_owned();
    let log = tempfile::NamedTempFile::new().unwrap();
    let at = cluster.start_replica_logging_to(Some(log.path())).await;
    let base = cluster.at(at).to_owned();
    let http = reqwest::Client::new();
    let client = ("app", secret.as_str());
    let mut secrets: Vec<String> = vec![
        PASSWORD.into(),
        secret.clone(),
        ops_secret.clone(),
        "wrong password 123".into(),
    ];

    // Password grant, failures, refresh, reuse.
    let (_, t) = token(
        &http,
        &base,
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", PASSWORD),
            ("scope", "openid"),
        ],
        client,
    )
    .await;
    token(
        &http,
        &base,
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "wrong password 123"),
        ],
        client,
    )
    .await;
    let r1 = t["refresh_token"].as_str().unwrap().to_owned();
    let (_, t2) = token(
        &http,
        &base,
        &[("grant_type", "refresh_token"), ("refresh_token", &r1)],
        client,
    )
    .await;
    token(
        &http,
        &base,
        &[("grant_type", "refresh_token"), ("refresh_token", &r1)],
        client,
    )
    .await;
    for tokens in [&t, &t2] {
        for field in ["access_token", "refresh_token", "id_token"] {
            secrets.extend(tokens[field].as_str().map(str::to_owned));
        }
    }
    // Userinfo, introspection, revocation, admin API.
    http.get(format!("{base}/userinfo"))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    http.post(format!("{base}/introspect"))
        .basic_auth("app", Some(&secret))
        .form(&[("token", t["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    http.post(format!("{base}/revoke"))
        .basic_auth("app", Some(&secret))
        .form(&[("token", t["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    let (_, admin) = token(
        &http,
        &base,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "portcullis:admin"),
        ],
        ("ops", &ops_secret),
    )
    .await;
    let admin_token = admin["access_token"].as_str().unwrap().to_owned();
    secrets.push(admin_token.clone());
    http.post(format!("{base}/admin/users"))
        .bearer_auth(&admin_token)
        .json(&serde_json::json!({"username": "bob", "password": "bobs secret password"}))
        .send()
        .await
        .unwrap();
    secrets.push("bobs secret password".into());

    // The authorization-code flow through the login page, and logout.
    let browser = Browser::new();
    let (challenge, verifier) = openidconnect::PkceCodeChallenge::new_random_sha256();
    secrets.push(verifier.secret().clone());
    let url = format!(
        "{base}/authorize?response_type=code&client_id=app&redirect_uri={CALLBACK}&scope=openid&state=s&code_challenge={}&code_challenge_method=S256",
        challenge.as_str()
    );
    let login = location(&browser.get(&url).await).replace(&cluster.issuer, &base);
    let html = browser.get(&login).await.text().await.unwrap();
    secrets.push(hidden(&html, "csrf_token"));
    let res = browser.submit_login(&base, &html, "alice", PASSWORD).await;
    let resume = location(&res).replace(&cluster.issuer, &base);
    let callback = location(&browser.get(&resume).await);
    let code = query_param(&callback, "code").unwrap();
    secrets.push(code.clone());
    let (_, t3) = token(
        &http,
        &base,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", verifier.secret()),
        ],
        client,
    )
    .await;
    let id_token = t3["id_token"].as_str().unwrap().to_owned();
    secrets.push(id_token.clone());
    secrets.extend(t3["refresh_token"].as_str().map(str::to_owned));
    browser
        .get(&format!("{base}/logout?id_token_hint={id_token}"))
        .await;

    tokio::time::sleep(Duration::from_millis(300)).await;
    let text = std::fs::read_to_string(log.path()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.len() > 20,
        "debug logging wrote {} lines",
        lines.len()
    );
    let mut request_lines = 0;
    for line in &lines {
        let entry: Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        if entry["message"] == "request" {
            request_lines += 1;
            assert!(
                entry["span"]["request_id"].is_string() || entry["request_id"].is_string(),
                "{line}"
            );
        }
    }
    assert!(request_lines >= 15, "{request_lines} request lines");
    for secret in &secrets {
        assert!(secret.len() >= 8);
        assert!(
            !text.contains(secret.as_str()),
            "the log holds a secret ({}…)",
            &secret[..6]
        );
    }
}

#[tokio::test]
async fn sigterm_drains_in_flight_requests_then_exits_zero() {
    let mut cluster = Cluster::new(&[("PORTCULLIS_LOGIN_SLOW_AFTER", "1")]);
    cluster.cli(&["migrate"], None);
    let secret = provision(&cluster);
    let at = cluster.start_replica().await;
    let base = cluster.at(at).to_owned();
    let http = reqwest::Client::new();
    let wrong = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", "wrong password"),
    ];
    let (s, _) = token(&http, &base, &wrong, ("app", &secret)).await;
    assert_eq!(s, 400);
    // The next failure is held back a second: it is in flight when SIGTERM comes.
    let in_flight = {
        let (http, base, secret) = (http.clone(), base.clone(), secret.clone());
        tokio::spawn(async move { token(&http, &base, &wrong, ("app", &secret)).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = cluster.replicas[at].child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let (s, body) = in_flight.await.unwrap();
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "the in-flight request was answered"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(status) = cluster.replicas[at].child.try_wait().unwrap() {
            break status.code();
        }
        assert!(
            Instant::now() < deadline,
            "still running 20 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(code, Some(0));
    assert!(
        http.get(format!("{base}/healthz")).send().await.is_err(),
        "no longer listening"
    );
}

/// A TCP proxy between the server and PostgreSQL that can cut the line.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
}

async fn proxy_to(target: String) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let up = Arc::new(AtomicBool::new(true));
    let flag = up.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            if !flag.load(Ordering::SeqCst) {
                let _ = inbound.shutdown().await;
                continue;
            }
            let (flag, target) = (flag.clone(), target.clone());
            tokio::spawn(async move {
                let Ok(mut outbound) = TcpStream::connect(&target).await else {
                    return;
                };
                let copy = tokio::io::copy_bidirectional(&mut inbound, &mut outbound);
                let cut = async {
                    while flag.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                };
                tokio::select! { _ = copy => {}, _ = cut => {} }
            });
        }
    });
    Proxy { port, up }
}

/// This test needs a networked database to cut: PostgreSQL, from
/// PORTCULLIS_TEST_POSTGRES_URL or the local server. Multi-threaded: the
/// proxy must keep running while the test blocks on the CLI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_answered_with_503_and_recovered_from() {
    use diesel::{Connection, RunQueryDsl};
    let base = std::env::var("PORTCULLIS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable".into());
    let name = format!(
        "portcullis_outage_{}",
        portcullis::secrets::random_uuid().replace('-', "")
    );
    let mut admin = diesel::PgConnection::establish(&base)
        .expect("this test needs PostgreSQL on 127.0.0.1:5432");
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .unwrap();
    let proxy = proxy_to("127.0.0.1:5432".into()).await;
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/{name}?sslmode=disable",
        proxy.port
    );

    let mut cluster = Cluster::on_database(&url, &[]);
    cluster.cli(&["migrate"], None);
    let secret = provision(&cluster);
    let at = cluster.start_replica().await;
    let base_url = cluster.at(at).to_owned();
    let http = reqwest::Client::new();
    let login = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", PASSWORD),
    ];
    let (s, before) = token(&http, &base_url, &login, ("app", &secret)).await;
    assert_eq!(s, 200);

    proxy.up.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let (s, body) = token(&http, &base_url, &login, ("app", &secret)).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (503, Some("temporarily_unavailable"))
    );
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "answered within the pool timeout: {:?}",
        started.elapsed()
    );
    let res = http
        .get(format!("{base_url}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the JWKS is served from memory");
    let res = http
        .get(format!("{base_url}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        http.get(format!("{base_url}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    assert_eq!(
        http.get(format!("{base_url}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    proxy.up.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (s, _) = token(&http, &base_url, &login, ("app", &secret)).await;
        if s == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "did not recover: {s}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // What was written before the outage is still there.
    let (s, _) = token(
        &http,
        &base_url,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", before["refresh_token"].as_str().unwrap()),
        ],
        ("app", &secret),
    )
    .await;
    assert_eq!(s, 200);
    drop(cluster);
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .unwrap();
}
