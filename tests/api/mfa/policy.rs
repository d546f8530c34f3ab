//! The policies: a client's require_mfa, the server's mfa_required, and
//! operators' view and reset of a person's factors.

use serde_json::Value;

use super::password_step;
use crate::helpers::browser::{
    authorize_url, location, login_through, sso_setup, Browser, CALLBACK,
};
use crate::helpers::{spawn_app, PASSWORD};

#[tokio::test]
async fn a_require_mfa_client_sends_a_person_without_a_factor_to_set_one_up() {
    let (app, _, _) = sso_setup().await;
    let out = app.cli(
        &[
            "client",
            "add",
            "bank",
            "--redirect-uri",
            CALLBACK,
            "--require-mfa",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let browser = Browser::new();
    let (url, _) = authorize_url(&app, "bank", CALLBACK, &[]);
    let res = password_step(&browser, &url, "alice", PASSWORD).await;
    assert!(location(&res).ends_with("/login/second-factor"));
    let html = browser
        .get(&format!("{}/login/second-factor", app.address))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Set up an authenticator app"));

    // An ordinary client still signs alice in with her password alone.
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[]);
    let callback = login_through(&Browser::new(), &url, "alice", PASSWORD).await;
    assert!(callback.starts_with(CALLBACK));
}

#[tokio::test]
async fn a_require_mfa_client_cannot_have_the_password_grant() {
    let app = spawn_app().await;
    let out = app.cli(
        &[
            "client",
            "add",
            "script",
            "--grant-types",
            "password",
            "--require-mfa",
        ],
        None,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("password grant"), "{stderr}");
}

#[tokio::test]
async fn mfa_required_asks_every_login_for_a_factor() {
    let (app, _, _) = crate::helpers::browser::sso_setup_with(crate::helpers::AppOptions {
        extra: vec![("mfa_required", "true".into())],
        ..Default::default()
    })
    .await;
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[]);
    let res = password_step(&Browser::new(), &url, "alice", PASSWORD).await;
    assert!(location(&res).ends_with("/login/second-factor"));
    let discovery: Value = app
        .http
        .get(format!("{}/.well-known/openid-configuration", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        discovery["acr_values_supported"],
        serde_json::json!(["pwd", "mfa", "phr"])
    );
    let claims = discovery["claims_supported"].as_array().unwrap();
    assert!(claims.contains(&"amr".into()) && claims.contains(&"acr".into()));
}

#[tokio::test]
async fn operators_list_and_reset_a_persons_factors() {
    let (app, _, _) = sso_setup().await;
    let id = app.user_id("alice").await;
    app.enrol_totp(&id).await;
    let out = app.cli(&["user", "mfa", "list", "alice", "--json"], None);
    assert!(out.status.success());
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(listed["factors"]["totp_since"].is_i64(), "{listed}");
    assert_eq!(listed["factors"]["recovery_codes_left"], 10);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("sealed"));

    let out = app.cli(&["user", "mfa", "reset", "alice"], None);
    assert!(out.status.success());
    let out = app.cli(&["user", "mfa", "list", "alice", "--json"], None);
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(listed["factors"]["totp_since"].is_null());
    assert_eq!(listed["factors"]["recovery_codes_left"], 0);
    let out = app.cli(&["user", "mfa", "list", "nobody"], None);
    assert!(!out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);

    // The admin API, the same.
    app.enrol_totp(&id).await;
    let token = app.admin_token("portcullis:admin").await;
    let listed: Value = app
        .get_with_bearer("/admin/users/alice/mfa", &token)
        .await
        .json()
        .await
        .unwrap();
    assert!(listed["factors"]["totp_since"].is_i64());
    let res = app
        .http
        .post(format!("{}/admin/users/alice/mfa/reset", app.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["removed"]["totp"], true);
    let missing = app.get_with_bearer("/admin/users/nobody/mfa", &token).await;
    assert_eq!(missing.status(), 404);
    let audit = app
        .ctx
        .db
        .run(|conn| portcullis::store::audit::list_since(conn, 0, 1000))
        .await
        .unwrap();
    assert_eq!(audit.iter().filter(|e| e.action == "mfa.reset").count(), 2);
}

#[tokio::test]
async fn keys_rewrap_reseals_totp_secrets_and_codes_still_work() {
    use portcullis::keys::{Kek, Keyring};
    use portcullis::store::second_factors::{all_totp, totp_seal_label};
    let (app, _, _) = sso_setup().await;
    let (secret, _) = app.enrol_totp(&app.user_id("alice").await).await;
    let out = app.cli(&["keys", "rewrap"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let previous = app.kek_file.with_file_name("kek.previous");
    let old = Keyring::single(Kek::load(&previous).unwrap());
    let new = Keyring::single(Kek::load(&app.kek_file).unwrap());
    let rows = app.ctx.db.run(all_totp).await.unwrap();
    assert_eq!(rows.len(), 1);
    let label = totp_seal_label(&rows[0].user_id);
    assert!(new.unseal(&label, &rows[0].sealed_secret).is_ok());
    assert!(
        old.unseal(&label, &rows[0].sealed_secret).is_err(),
        "no longer under the old KEK"
    );
    // The database alone gives no secret: the plaintext is nowhere in it.
    let raw = crate::helpers::totp::base32_decode(&secret);
    assert!(!rows[0]
        .sealed_secret
        .windows(raw.len())
        .any(|w| w == raw.as_slice()));
    std::fs::remove_file(&previous).unwrap();
    // The running server reloads the KEK files and still checks codes.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[]);
    let browser = Browser::new();
    password_step(&browser, &url, "alice", PASSWORD).await;
    let res = super::give_code(
        &app,
        &browser,
        "totp",
        &crate::helpers::totp::code(&secret, app.now()),
    )
    .await;
    assert_eq!(res.status(), 303);
}
