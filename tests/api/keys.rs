use portcullis::keys::{Kek, SigningAlg};
use portcullis::store::keys as rows;
use serde_json::Value;

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
    assert_eq!(keys.len(), 2);
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
