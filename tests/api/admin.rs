//! The admin API, the audit trail, the refresh reuse grace window and KEK rewrap.

use serde_json::{json, Value};

use crate::helpers::tokens::TokenResponse;
use crate::helpers::{eventually, spawn_app, spawn_app_with, AppOptions, ClientSpec, PASSWORD};

#[tokio::test]
async fn the_admin_api_needs_an_admin_token() {
    let app = spawn_app().await;
    let url = format!("{}/admin/keys", app.address);
    let res = app.http.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let res = app.get_with_bearer("/admin/keys", "garbage").await;
    assert_eq!(res.status(), 401);
    let weak = app.admin_token("api:read").await;
    let res = app.get_with_bearer("/admin/keys", &weak).await;
    assert_eq!(res.status(), 403);
    assert!(res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("insufficient_scope"));
    // A user's token, even with every scope of its client, is no admin token.
    app.create_user("alice", PASSWORD).await;
    let user_client = app.create_client(ClientSpec::named("web")).await.unwrap();
    let user = app
        .password_token_pair(("web", &user_client), ("alice", PASSWORD), "openid")
        .await;
    let res = app.get_with_bearer("/admin/keys", &user.access_token).await;
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn admins_manage_keys_users_and_clients_and_every_action_is_audited() {
    let app = spawn_app().await;
    let token = app.admin_token("portcullis:admin").await;
    let admin = |method: reqwest::Method, path: &str| {
        app.http
            .request(method, format!("{}/admin{path}", app.address))
            .bearer_auth(&token)
    };

    // Keys: list, rotate, revoke.
    let keys: Value = admin(reqwest::Method::GET, "/keys")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        keys["keys"].as_array().unwrap().len(),
        portcullis::keys::SigningAlg::ALL.len()
    );
    assert!(keys.to_string().find("sealed").is_none());
    let rotated: Value = admin(reqwest::Method::POST, "/keys/rotate")
        .json(&json!({"alg": "ES256"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new_kid = rotated["rotated"][0]["kid"].as_str().unwrap().to_owned();
    assert!(
        app.jwks().await.find(&new_kid).is_some(),
        "the serving replica's JWKS has it at once"
    );
    let res = admin(reqwest::Method::POST, "/keys/rotate")
        .json(&json!({"alg": "HS256"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = admin(reqwest::Method::POST, &format!("/keys/{new_kid}/revoke"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let revoked: Value = res.json().await.unwrap();
    assert!(revoked["replaced_by"].is_string());
    assert!(app.jwks().await.find(&new_kid).is_none());
    let res = admin(reqwest::Method::POST, "/keys/nope/revoke")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    // Users.
    let res = admin(reqwest::Method::POST, "/users")
        .json(&json!({"username": "bob", "password": PASSWORD, "email": "bob@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = admin(reqwest::Method::POST, "/users")
        .json(&json!({"username": "bob", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    let res = admin(reqwest::Method::POST, "/users")
        .json(&json!({"username": "carl", "password": "short"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = admin(reqwest::Method::POST, "/users")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    let users: Value = admin(reqwest::Method::GET, "/users")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(users["users"][0]["username"], "bob");
    assert!(
        !users.to_string().contains("argon2"),
        "no password hash leaves the server"
    );

    // Clients.
    let res = admin(reqwest::Method::POST, "/clients")
        .json(&json!({"client_id": "shop", "grant_types": ["password", "refresh_token"], "signing_alg": "ES256"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let shop: Value = res.json().await.unwrap();
    let shop_secret = shop["client_secret"].as_str().unwrap().to_owned();
    let tokens = app
        .password_token_pair(("shop", &shop_secret), ("bob", PASSWORD), "openid")
        .await;
    assert!(tokens.refresh_token.is_some());
    let clients: Value = admin(reqwest::Method::GET, "/clients")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(clients["clients"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["client_id"] == "shop"));
    assert!(!clients.to_string().contains(&shop_secret));
    // Every algorithm discovery lists, named in any case; tokens follow it.
    for (given, alg) in [("ps256", "PS256"), ("eddsa", "EdDSA")] {
        let id = format!("svc-{given}");
        let res = admin(reqwest::Method::POST, "/clients")
            .json(
                &json!({"client_id": id, "grant_types": ["client_credentials"],
                          "scope": "api:read", "signing_alg": given}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let made: Value = res.json().await.unwrap();
        assert_eq!(made["signing_alg"], alg, "{made}");
        let res = app
            .post_token(
                &[("grant_type", "client_credentials")],
                Some((&id, made["client_secret"].as_str().unwrap())),
            )
            .await;
        let token = TokenResponse::read(res).await.access_token;
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(format!("{:?}", header.alg), alg);
        app.verify_access_token(&token, &app.address)
            .await
            .expect("verifies with the JWKS");
    }
    let res = admin(reqwest::Method::POST, "/clients")
        .json(&json!({"client_id": "bad", "public": true, "grant_types": ["client_credentials"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    let res = admin(reqwest::Method::POST, "/users/bob/disable")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.json::<Value>().await.unwrap()["revoked_refresh_tokens"],
        1
    );
    let res = admin(reqwest::Method::DELETE, "/clients/shop")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = admin(reqwest::Method::DELETE, "/clients/shop")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = admin(reqwest::Method::GET, "/nothing-here")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    // A failed login and a refresh-token reuse are in the trail too.
    app.post_token(
        &[
            ("grant_type", "password"),
            ("username", "bob"),
            ("password", "wrong password"),
        ],
        Some(("ops", "x")),
    )
    .await;
    let web = app.create_client(ClientSpec::named("web")).await.unwrap();
    app.create_user("alice", PASSWORD).await;
    app.post_token(
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "not her password"),
        ],
        Some(("web", &web)),
    )
    .await;
    let t = app
        .password_token_pair(("web", &web), ("alice", PASSWORD), "openid")
        .await;
    let r = t.refresh();
    for _ in 0..2 {
        app.post_token(
            &[("grant_type", "refresh_token"), ("refresh_token", r)],
            Some(("web", &web)),
        )
        .await;
    }

    let out = app.cli(&["audit", "list", "--json", "--since", "1h"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trail = String::from_utf8_lossy(&out.stdout).into_owned();
    let events: Vec<Value> = serde_json::from_str(&trail).unwrap();
    let has = |actor: &str, action: &str| {
        events
            .iter()
            .any(|e| e["actor"] == actor && e["action"] == action)
    };
    for action in [
        "key.activated",
        "key.retired",
        "key.revoked",
        "user.created",
        "user.disabled",
        "client.created",
        "client.removed",
    ] {
        assert!(
            has("admin:ops", action),
            "{action} by admin:ops missing from {trail}"
        );
    }
    assert!(has("client:web", "login.failure"));
    assert!(has("client:web", "login.success"));
    assert!(has("client:web", "refresh.reuse_detected"));
    for secret in [PASSWORD, "not her password", &shop_secret, &web, r] {
        assert!(!trail.contains(secret), "a secret reached the audit trail");
    }
    let human = app.cli(&["audit", "list"], None);
    assert!(String::from_utf8_lossy(&human.stdout).contains("refresh.reuse_detected"));
    let bad = app.cli(&["audit", "list", "--since", "yesterday"], None);
    assert!(!bad.status.success());
}

#[tokio::test]
async fn the_reuse_grace_window_forgives_a_quick_replay_only() {
    let app = spawn_app_with(AppOptions {
        refresh_reuse_grace: 2,
        manual_clock: true,
        ..Default::default()
    })
    .await;
    app.create_user("alice", PASSWORD).await;
    let secret = app.create_client(ClientSpec::default()).await.unwrap();
    let first = app
        .password_token_pair(("app", &secret), ("alice", PASSWORD), "openid")
        .await;
    let r1 = first.refresh();
    let refresh = |t: String| {
        let app = &app;
        let secret = secret.clone();
        async move {
            let res = app
                .post_token(
                    &[("grant_type", "refresh_token"), ("refresh_token", &t)],
                    Some(("app", &secret)),
                )
                .await;
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };
    let (s, second) = refresh(r1.to_owned()).await;
    assert_eq!(s, 200);
    let (s, replay) = refresh(r1.to_owned()).await;
    assert_eq!(
        s, 200,
        "within the window a replay gets a fresh pair: {replay}"
    );
    assert_ne!(replay["refresh_token"], second["refresh_token"]);
    let (s, _) = refresh(second["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(s, 200, "and the family lives on");

    app.advance(3);
    let (s, err) = refresh(r1.to_owned()).await;
    assert_eq!(
        (s, err["error"].as_str()),
        (400, Some("invalid_grant")),
        "outside the window reuse revokes the family"
    );
    let (s, _) = refresh(replay["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn rewrap_reseals_every_key_under_a_new_kek_without_changing_a_kid() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD).await;
    let secret = app.create_client(ClientSpec::default()).await.unwrap();
    let before: Vec<String> = app
        .jwks()
        .await
        .keys
        .iter()
        .filter_map(|k| k.common.key_id.clone())
        .collect();
    let old_kek = std::fs::read_to_string(&app.kek_file).unwrap();

    let out = app.cli(&["keys", "rewrap"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new_kek = std::fs::read_to_string(&app.kek_file).unwrap();
    assert_ne!(old_kek, new_kek);
    let previous = app.kek_file.with_file_name("kek.previous");
    assert_eq!(std::fs::read_to_string(&previous).unwrap(), old_kek);
    let again = app.cli(&["keys", "rewrap"], None);
    assert!(
        !again.status.success(),
        "a second rewrap waits until .previous is deleted"
    );

    // Every row is now sealed under the new KEK only.
    let old = portcullis::keys::Keyring::single(portcullis::keys::Kek::load(&previous).unwrap());
    let new =
        portcullis::keys::Keyring::single(portcullis::keys::Kek::load(&app.kek_file).unwrap());
    let rows = app.ctx.db.run(portcullis::store::keys::list).await.unwrap();
    for row in &rows {
        assert!(new.unseal(&row.kid, &row.sealed_private).is_ok());
        assert!(old.unseal(&row.kid, &row.sealed_private).is_err());
    }
    std::fs::remove_file(&previous).unwrap();

    // The running server keeps signing with the same kids...
    let t = app
        .password_token_pair(("app", &secret), ("alice", PASSWORD), "openid")
        .await;
    assert!(app
        .verify_access_token(&t.access_token, &app.address)
        .await
        .is_ok());
    let after: Vec<String> = app
        .jwks()
        .await
        .keys
        .iter()
        .filter_map(|k| k.common.key_id.clone())
        .collect();
    assert_eq!(before, after);
    // ...and unseals keys made under the new KEK.
    let out = app.cli(&["keys", "rotate", "--alg", "RS256"], None);
    assert!(out.status.success());
    let new_kid = String::from_utf8_lossy(&out.stdout)
        .trim()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_owned();
    eventually(
        "the server signs with the key sealed under the new KEK",
        || async {
            let t = app
                .password_token_pair(("app", &secret), ("alice", PASSWORD), "openid")
                .await;
            jsonwebtoken::decode_header(&t.access_token)
                .unwrap()
                .kid
                .as_deref()
                == Some(new_kid.as_str())
        },
    )
    .await;
}
