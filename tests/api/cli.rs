use serde_json::Value;

use crate::helpers::spawn_app;

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fails(out: &std::process::Output) -> String {
    assert!(
        !out.status.success(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err
}

#[tokio::test]
async fn the_cli_provisions_users_and_clients_that_the_server_accepts() {
    let app = spawn_app().await;
    ok(&app.cli(
        &[
            "user",
            "add",
            "erin",
            "--email",
            "erin@example.com",
            "--name",
            "Erin",
            "--password-stdin",
        ],
        Some("a long password\n"),
    ));
    let users: Vec<Value> =
        serde_json::from_str(&ok(&app.cli(&["user", "list", "--json"], None))).unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["username"], "erin");
    assert_eq!(users[0]["email"], "erin@example.com");
    assert!(users[0].get("password_hash").is_none());
    assert!(ok(&app.cli(&["user", "list"], None)).contains("erin"));

    let err = fails(&app.cli(
        &["user", "add", "erin", "--password-stdin"],
        Some("another password\n"),
    ));
    assert!(err.contains("already exists"), "{err}");
    let err = fails(&app.cli(
        &["user", "add", "frank", "--password-stdin"],
        Some("short\n"),
    ));
    assert!(err.contains("at least 8"), "{err}");

    let created: Value = serde_json::from_str(&ok(&app.cli(
        &[
            "client",
            "add",
            "web",
            "--grant-types",
            "password,refresh_token,client_credentials",
            "--scope",
            "openid api",
            "--signing-alg",
            "ES256",
            "--json",
        ],
        None,
    )))
    .unwrap();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 43);
    let listed: Vec<Value> =
        serde_json::from_str(&ok(&app.cli(&["client", "list", "--json"], None))).unwrap();
    assert_eq!(listed[0]["client_id"], "web");
    assert_eq!(listed[0]["signing_alg"], "ES256");
    assert!(
        listed[0].get("client_secret").is_none(),
        "the secret is shown once only"
    );
    // Every signing algorithm, named in any case; listed by its JWS name.
    for (given, alg) in [("ps256", "PS256"), ("eddsa", "EdDSA")] {
        let id = format!("svc-{given}");
        ok(&app.cli(
            &[
                "client",
                "add",
                &id,
                "--grant-types",
                "client_credentials",
                "--signing-alg",
                given,
            ],
            None,
        ));
        let listed: Vec<Value> =
            serde_json::from_str(&ok(&app.cli(&["client", "list", "--json"], None))).unwrap();
        let client = listed.iter().find(|c| c["client_id"] == id.as_str());
        assert_eq!(client.unwrap()["signing_alg"], alg);
    }
    let refused = app.cli(&["client", "add", "hs", "--signing-alg", "HS256"], None);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("EdDSA"),
        "the error names what is accepted: {err}"
    );

    let human = ok(&app.cli(&["client", "add", "cli-app", "--public"], None));
    assert!(human.contains("created public client cli-app"));
    assert!(!human.contains("client_secret"));
    ok(&app.cli(
        &["client", "add", "own-secret", "--secret-stdin"],
        Some("0123456789abcdef0123456789abcdef\n"),
    ));
    let err = fails(&app.cli(
        &["client", "add", "weak", "--secret-stdin"],
        Some("hunter2\n"),
    ));
    assert!(err.contains("at least 32"), "{err}");
    let err = fails(&app.cli(
        &[
            "client",
            "add",
            "bad",
            "--public",
            "--grant-types",
            "client_credentials",
        ],
        None,
    ));
    assert!(err.contains("public client"), "{err}");
    // A usage error: clap's message, led by the one line that says what is wrong.
    let out = app.cli(&["client", "add", "bad", "--grant-types", "implicit"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: invalid value 'implicit'"));

    let res = app
        .post_token(
            &[
                ("grant_type", "password"),
                ("username", "erin"),
                ("password", "a long password"),
                ("scope", "openid"),
            ],
            Some(("web", &secret)),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .post_token(
            &[
                ("grant_type", "password"),
                ("username", "erin"),
                ("password", "a long password"),
            ],
            Some(("own-secret", "0123456789abcdef0123456789abcdef")),
        )
        .await;
    assert_eq!(res.status(), 200);

    ok(&app.cli(
        &["user", "set-password", "erin", "--password-stdin"],
        Some("a new long password\n"),
    ));
    let res = app
        .post_token(
            &[
                ("grant_type", "password"),
                ("username", "erin"),
                ("password", "a long password"),
            ],
            Some(("web", &secret)),
        )
        .await;
    assert_eq!(res.status(), 400);

    ok(&app.cli(&["client", "remove", "web"], None));
    fails(&app.cli(&["client", "remove", "web"], None));
    // The server caches clients for CLIENT_CACHE_TTL: the removal made by
    // another process takes effect within it.
    let started = std::time::Instant::now();
    crate::helpers::eventually("the removed client is refused", || async {
        let res = app
            .post_token(
                &[("grant_type", "client_credentials")],
                Some(("web", &secret)),
            )
            .await;
        res.status() == 401
    })
    .await;
    assert!(
        started.elapsed()
            <= portcullis::oauth::clients::CLIENT_CACHE_TTL + std::time::Duration::from_secs(1)
    );
}

#[test]
fn bad_settings_are_a_one_line_error_naming_the_setting() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["user", "list"])
        .env("PORTCULLIS_ACCESS_TOKEN_TTL", "five minutes")
        .output()
        .unwrap();
    let err = fails(&out);
    assert!(err.contains("PORTCULLIS_ACCESS_TOKEN_TTL"), "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["migrate", "--database-url", "mysql://localhost/x"])
        .output()
        .unwrap();
    let err = fails(&out);
    assert!(err.contains("--database-url"), "{err}");
}
