use portcullis::keys::{Kek, SigningAlg};
use portcullis::oauth::clients::GrantType;
use portcullis::store::keys as rows;
use serde_json::Value;

use crate::helpers::tokens::TokenResponse;
use crate::helpers::{eventually, spawn_app, ClientSpec, PASSWORD};

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

#[tokio::test]
async fn rotation_keeps_old_tokens_verifiable_and_revocation_removes_the_key() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD).await;
    let secret = app
        .create_client(ClientSpec {
            alg: SigningAlg::Es256,
            ..Default::default()
        })
        .await
        .unwrap();
    let before = app
        .password_token_pair(("app", &secret), ("alice", PASSWORD), "openid")
        .await;
    let old_token = before.access_token;
    let old_kid = kid_of(&old_token);

    let out = app.cli(&["keys", "rotate", "--alg", "ES256"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let new_kid = stdout.trim().rsplit(' ').next().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);

    // The running server follows the database without a restart.
    eventually("the server signs with the new key", || async {
        let t = app
            .password_token_pair(("app", &secret), ("alice", PASSWORD), "openid")
            .await;
        kid_of(&t.access_token) == new_kid
    })
    .await;
    let jwks = app.jwks().await;
    assert!(
        jwks.find(&old_kid).is_some(),
        "the retired key stays published"
    );
    assert!(jwks.find(&new_kid).is_some());
    app.verify_access_token(&old_token, &app.address)
        .await
        .expect("a token signed before the rotation still verifies");
    let after = app
        .password_token_pair(("app", &secret), ("alice", PASSWORD), "openid")
        .await;
    app.verify_access_token(&after.access_token, &app.address)
        .await
        .unwrap();
    assert_eq!(kid_of(after.id()), new_kid);

    let list = app.cli(&["keys", "list", "--json"], None);
    let list: Vec<Value> = serde_json::from_slice(&list.stdout).unwrap();
    let state = |kid: &str| {
        list.iter()
            .find(|k| k["kid"] == kid)
            .map(|k| k["state"].as_str().unwrap().to_owned())
    };
    assert_eq!(state(&old_kid).as_deref(), Some("retired"));
    assert_eq!(state(&new_kid).as_deref(), Some("active"));

    // The server has verified the old token (and remembers that it did)...
    let info = app.introspect(&old_token, ("app", &secret)).await;
    assert_eq!(info["active"], true);
    let out = app.cli(&["keys", "revoke", &old_kid], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eventually("the revoked key leaves the JWKS", || async {
        app.jwks().await.find(&old_kid).is_none()
    })
    .await;
    // ...and still refuses it once its key is revoked.
    eventually("the server refuses the revoked key's token", || async {
        app.introspect(&old_token, ("app", &secret)).await["active"] == false
    })
    .await;
    assert!(app
        .verify_access_token(&old_token, &app.address)
        .await
        .is_err());

    let out = app.cli(&["keys", "revoke", &old_kid], None);
    assert!(!out.status.success(), "revoking twice is an error");
    let out = app.cli(&["keys", "revoke", "no-such-kid"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: "));
}

#[tokio::test]
async fn revoking_the_active_key_puts_a_new_one_in_its_place() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD).await;
    let secret = app.create_client(ClientSpec::default()).await.unwrap();
    let t = app
        .password_token_pair(("app", &secret), ("alice", PASSWORD), "openid")
        .await;
    let active = kid_of(&t.access_token);
    let out = app.cli(&["keys", "revoke", &active], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eventually("tokens are signed by the replacement key", || async {
        let t = app
            .password_token_pair(("app", &secret), ("alice", PASSWORD), "openid")
            .await;
        let kid = kid_of(&t.access_token);
        kid != active
            && app
                .verify_access_token(&t.access_token, &app.address)
                .await
                .is_ok()
    })
    .await;
    assert!(app.jwks().await.find(&active).is_none());
}

#[tokio::test]
async fn private_keys_are_sealed_in_the_database() {
    let app = spawn_app().await;
    let kek = Kek::load(&app.kek_file).unwrap();
    let keys = app.ctx.db.run(rows::list).await.unwrap();
    assert_eq!(keys.len(), SigningAlg::ALL.len());
    let wrong = Kek::from_bytes(&[0u8; 32]);
    let mut ders = Vec::new();
    for key in &keys {
        assert!(key.public_jwk.find("\"d\"").is_none());
        let der = kek
            .unseal(&key.kid, &key.sealed_private)
            .expect("the KEK unseals its keys");
        assert!(wrong.unseal(&key.kid, &key.sealed_private).is_err());
        assert!(!key
            .sealed_private
            .windows(32)
            .any(|w| der.windows(32).any(|d| d == w)));
        ders.push(der);
    }
    // Nothing in the database file is the private key in the clear: no PEM,
    // and no 32-byte run of either private key's DER.
    if app.database_url.starts_with("sqlite://") {
        let path = app.dir.path().join("portcullis.db");
        let mut bytes = std::fs::read(&path).unwrap();
        if let Ok(wal) = std::fs::read(path.with_extension("db-wal")) {
            bytes.extend(wal);
        }
        assert!(!bytes.windows(11).any(|w| w == b"-----BEGIN "));
        for der in &ders {
            for chunk in der.chunks(32).filter(|c| c.len() == 32) {
                assert!(
                    !bytes.windows(32).any(|w| w == chunk),
                    "a private key is readable in the database file"
                );
            }
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&app.kek_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

/// PS256 and EdDSA keys rotate like the others, through the CLI and the
/// admin API: the client's tokens move to the new kid and the old one stays
/// published, with its tokens still verifiable.
#[tokio::test]
async fn ps256_and_eddsa_keys_rotate_through_the_cli_and_the_admin_api() {
    let app = spawn_app().await;
    let ops = app
        .create_client(ClientSpec {
            id: "ops",
            grants: &[GrantType::ClientCredentials],
            scope: "portcullis:admin",
            ..Default::default()
        })
        .await
        .unwrap();
    let admin = app
        .post_token(&[("grant_type", "client_credentials")], Some(("ops", &ops)))
        .await;
    let admin = TokenResponse::read(admin).await.access_token;
    for (id, alg, name) in [
        ("cc-ps256", SigningAlg::Ps256, "ps256"),
        ("cc-eddsa", SigningAlg::EdDsa, "eddsa"),
    ] {
        let secret = app
            .create_client(ClientSpec {
                id,
                grants: &[GrantType::ClientCredentials],
                alg,
                ..Default::default()
            })
            .await
            .unwrap();
        let token = || async {
            let res = app
                .post_token(&[("grant_type", "client_credentials")], Some((id, &secret)))
                .await;
            TokenResponse::read(res).await.access_token
        };
        let first = token().await;
        let first_kid = kid_of(&first);

        // The CLI, the algorithm named in any case.
        let out = app.cli(&["keys", "rotate", "--alg", name], None);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let cli_kid = stdout.trim().rsplit(' ').next().unwrap().to_owned();
        assert_ne!(cli_kid, first_kid);
        eventually("the server signs with the CLI's new key", || async {
            kid_of(&token().await) == cli_kid
        })
        .await;

        // The admin API, by the name discovery gives.
        let res = app
            .http
            .post(format!("{}/admin/keys/rotate", app.address))
            .bearer_auth(&admin)
            .json(&serde_json::json!({ "alg": alg.as_str() }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let rotated: Value = res.json().await.unwrap();
        assert_eq!(rotated["rotated"][0]["alg"], alg.as_str());
        let api_kid = rotated["rotated"][0]["kid"].as_str().unwrap().to_owned();
        // The replica that rotated signs with the new key at once.
        let last = token().await;
        assert_eq!(kid_of(&last), api_kid);

        let jwks = app.jwks().await;
        for kid in [&first_kid, &cli_kid, &api_kid] {
            assert!(jwks.find(kid).is_some(), "{alg}: {kid} is published");
        }
        for t in [&first, &last] {
            let claims = app
                .verify_access_token(t, &app.address)
                .await
                .unwrap_or_else(|e| panic!("{alg}: {e}"));
            assert_eq!(claims["client_id"], id);
            assert_eq!(app.introspect(t, (id, &secret)).await["active"], true);
        }
        let list = app.cli(&["keys", "list", "--json"], None);
        let list: Vec<Value> = serde_json::from_slice(&list.stdout).unwrap();
        let state = |kid: &str| {
            list.iter()
                .find(|k| k["kid"] == kid)
                .map(|k| (k["alg"].clone(), k["state"].clone()))
        };
        let named = |s: &str| Some((Value::from(alg.as_str()), Value::from(s)));
        assert_eq!(state(&first_kid), named("retired"));
        assert_eq!(state(&cli_kid), named("retired"));
        assert_eq!(state(&api_kid), named("active"));
    }
}
