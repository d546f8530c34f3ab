use serde_json::Value;

use crate::helpers::{spawn_app, spawn_app_with, AppOptions, ClientSpec, PASSWORD};

async fn refresh(
    app: &crate::helpers::TestApp,
    secret: &str,
    token: &str,
    scope: Option<&str>,
) -> (u16, Value) {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    let res = app.post_token(&form, Some(("app", secret))).await;
    let status = res.status().as_u16();
    if status == 200 {
        assert_eq!(res.headers()["cache-control"], "no-store");
    }
    (status, res.json().await.unwrap())
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = spawn_app_with(AppOptions {
        manual_clock: true,
        ..Default::default()
    })
    .await;
    let sub = app.create_user("alice", PASSWORD).await;
    let secret = app.create_client(ClientSpec::default()).await.unwrap();
    let first = app
        .password_token_pair(("app", &secret), ("alice", PASSWORD), "openid api:read")
        .await;
    let r1 = first.refresh().to_owned();
    // Into the next second, so a refreshed `auth_time` would differ.
    app.advance(1);

    let (status, second) = refresh(&app, &secret, &r1, None).await;
    assert_eq!(status, 200, "{second}");
    let r2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2, "every use returns a new refresh token");
    assert_eq!(second["scope"], "openid api:read");
    let claims = app
        .verify_access_token(second["access_token"].as_str().unwrap(), &app.address)
        .await
        .unwrap();
    assert_eq!(claims["sub"], sub.as_str());
    // The ID token from a refresh names the same user for the same client,
    // and the same moment of authentication (OIDC Core §12.2).
    let id = crate::helpers::unverified_claims(second["id_token"].as_str().unwrap());
    let first_id = crate::helpers::unverified_claims(first.id());
    assert_eq!(
        (id["sub"].as_str(), id["aud"].as_str()),
        (Some(sub.as_str()), Some("app"))
    );
    assert_eq!(id["auth_time"], first_id["auth_time"]);

    // The spent token comes back: reuse. The whole family dies, r2 included.
    let (status, err) = refresh(&app, &secret, &r1, None).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, err) = refresh(&app, &secret, &r2, None).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant")),
        "family revoked"
    );

    // A fresh login starts a new, unaffected family.
    let again = app
        .password_token_pair(("app", &secret), ("alice", PASSWORD), "openid")
        .await;
    let (status, _) = refresh(&app, &secret, again.refresh(), None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn refresh_scope_may_narrow_but_never_widen() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD).await;
    let secret = app.create_client(ClientSpec::default()).await.unwrap();
    let first = app
        .password_token_pair(("app", &secret), ("alice", PASSWORD), "api:read api:write")
        .await;
    let r1 = first.refresh();

    let (status, err) = refresh(&app, &secret, r1, Some("api:read email")).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_scope"))
    );

    // The refused request did not spend the token.
    let (status, narrowed) = refresh(&app, &secret, r1, Some("api:read")).await;
    assert_eq!(status, 200, "{narrowed}");
    assert_eq!(narrowed["scope"], "api:read");
    // Without `openid` a refresh is plain OAuth: no ID token.
    assert!(narrowed.get("id_token").is_none(), "{narrowed}");
    // RFC 6749 §6: the new refresh token keeps the original scope.
    let (status, full) = refresh(
        &app,
        &secret,
        narrowed["refresh_token"].as_str().unwrap(),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(full["scope"], "api:read api:write");
}

#[tokio::test]
async fn a_refresh_token_is_bound_to_its_client() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD).await;
    let secret = app.create_client(ClientSpec::default()).await.unwrap();
    let other = app.create_client(ClientSpec::named("other")).await.unwrap();
    let first = app
        .password_token_pair(("app", &secret), ("alice", PASSWORD), "openid")
        .await;
    let r1 = first.refresh();
    let res = app
        .post_token(
            &[("grant_type", "refresh_token"), ("refresh_token", r1)],
            Some(("other", &other)),
        )
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
    let (status, _) = refresh(&app, &secret, r1, None).await;
    assert_eq!(
        status, 200,
        "another client's attempt neither spent nor revoked it"
    );
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_have_exactly_one_winner() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD).await;
    let secret = app.create_client(ClientSpec::default()).await.unwrap();
    for round in 0..3 {
        let first = app
            .password_token_pair(("app", &secret), ("alice", PASSWORD), "openid")
            .await;
        let token = first.refresh().to_owned();
        let attempts = (0..16).map(|_| refresh(&app, &secret, &token, None));
        let results = futures::future::join_all(attempts).await;
        let winners = results.iter().filter(|(s, _)| *s == 200).count();
        assert_eq!(winners, 1, "round {round}: {results:?}");
        for (status, body) in results.iter().filter(|(s, _)| *s != 200) {
            assert_eq!(
                (*status, body["error"].as_str()),
                (400, Some("invalid_grant"))
            );
        }
    }
}

#[tokio::test]
async fn the_refresh_lifetime_runs_from_the_login_and_then_a_full_login_is_needed() {
    let app = spawn_app_with(AppOptions {
        refresh_token_ttl: 3,
        manual_clock: true,
        ..Default::default()
    })
    .await;
    app.create_user("alice", PASSWORD).await;
    let secret = app.create_client(ClientSpec::default()).await.unwrap();
    let first = app
        .password_token_pair(("app", &secret), ("alice", PASSWORD), "openid")
        .await;
    let (status, second) = refresh(&app, &secret, first.refresh(), None).await;
    assert_eq!(status, 200);
    app.advance(4);
    let (status, err) = refresh(
        &app,
        &secret,
        second["refresh_token"].as_str().unwrap(),
        None,
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant")),
        "rotation does not extend the lifetime"
    );
    let again = app
        .password_token_pair(("app", &secret), ("alice", PASSWORD), "openid")
        .await;
    assert!(again.refresh_token.is_some());
}
