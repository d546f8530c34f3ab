//! Sessions and applications on the account page, and what it tells:
//! events and the audit trail.

use super::{get, is_login_form, post, sign_in, NEW_PASSWORD};
use crate::helpers::browser::{hidden, location, Browser};
use crate::helpers::{error_of, spawn_app, ClientSpec, PASSWORD};

#[tokio::test]
async fn sessions_are_listed_and_ended_from_the_account_page() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD).await;
    let bob_id = app.create_user("bob", PASSWORD).await;
    let (here, elsewhere, bobs) = (Browser::new(), Browser::new(), Browser::new());
    sign_in(&app, &elsewhere, "alice", PASSWORD).await;
    sign_in(&app, &bobs, "bob", PASSWORD).await;
    let page = sign_in(&app, &here, "alice", PASSWORD).await;
    assert_eq!(page.matches("<li class=\"session\">").count(), 2, "{page}");
    assert_eq!(page.matches("<strong>This browser</strong>").count(), 1);
    let other = hidden(&page, "session");
    let csrf = hidden(&page, "csrf_token");
    let end = format!("{}/account/sessions/end", app.address);

    // Bob's session is not alice's to end.
    let now = app.now();
    let bob_sessions = app
        .ctx
        .db
        .run(move |conn| portcullis::store::sessions::live_of_user(conn, &bob_id, now))
        .await
        .unwrap();
    assert_eq!(bob_sessions.len(), 1);
    let bob_hash = bob_sessions[0].id_hash.clone();
    let res = post(
        &here,
        &end,
        &[("csrf_token", &csrf), ("session", &bob_hash)],
    )
    .await;
    assert_eq!(res.status(), 400);
    let (_, bob) = get(&bobs, &format!("{}/account", app.address)).await;
    assert!(!is_login_form(&bob), "bob is still signed in");

    let res = post(&here, &end, &[("csrf_token", &csrf), ("session", &other)]).await;
    assert!(location(&res).ends_with("/account?done=session-ended"));
    let (_, there) = get(&elsewhere, &format!("{}/account", app.address)).await;
    assert!(is_login_form(&there));
    let (_, page) = get(&here, &format!("{}/account", app.address)).await;
    assert_eq!(page.matches("<li class=\"session\">").count(), 1);

    // Sign out everywhere else.
    let elsewhere_page = sign_in(&app, &elsewhere, "alice", PASSWORD).await;
    let res = post(
        &here,
        &format!("{}/account/sessions/end-others", app.address),
        &[("csrf_token", &csrf)],
    )
    .await;
    assert!(location(&res).ends_with("/account?done=sessions-ended"));
    let (_, there) = get(&elsewhere, &format!("{}/account", app.address)).await;
    assert!(is_login_form(&there));
    let (_, mine) = get(&here, &format!("{}/account", app.address)).await;
    assert!(!is_login_form(&mine));
    let (_, bob) = get(&bobs, &format!("{}/account", app.address)).await;
    assert!(!is_login_form(&bob), "bob's session is his own");

    // A browser whose session ended: its form (with the token of its old
    // page) goes back to the account page, and changes nothing.
    let res = post(
        &elsewhere,
        &format!("{}/account/profile", app.address),
        &[
            ("csrf_token", &hidden(&elsewhere_page, "csrf_token")),
            ("name", "Changed"),
            ("email", ""),
        ],
    )
    .await;
    assert_eq!(location(&res), format!("{}/account", app.address));
    let (_, mine) = get(&here, &format!("{}/account", app.address)).await;
    assert!(mine.contains("value=\"Test User\""), "unchanged");
}

#[tokio::test]
async fn applications_are_listed_and_revoked() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD).await;
    let secret = app.create_client(ClientSpec::default()).await.unwrap();
    let tokens = app
        .password_token_pair(("app", &secret), ("alice", PASSWORD), "openid")
        .await;
    let refresh = tokens.refresh().to_owned();
    let browser = Browser::new();
    let page = sign_in(&app, &browser, "alice", PASSWORD).await;
    assert!(page.contains("<code>app</code>"), "{page}");
    assert!(page.contains("<li class=\"application\">"));
    let csrf = hidden(&page, "csrf_token");
    let revoke = format!("{}/account/applications/revoke", app.address);

    // A wrong token revokes nothing.
    let res = post(
        &browser,
        &revoke,
        &[("csrf_token", "x"), ("client_id", "app")],
    )
    .await;
    assert_eq!(res.status(), 400);
    let (_, page) = get(&browser, &format!("{}/account", app.address)).await;
    assert!(page.contains("<code>app</code>"));

    let res = post(
        &browser,
        &revoke,
        &[("csrf_token", &csrf), ("client_id", "app")],
    )
    .await;
    assert!(location(&res).ends_with("/account?done=app-revoked"));
    let (_, page) = get(&browser, &format!("{}/account", app.address)).await;
    assert!(!page.contains("<li class=\"application\">"), "{page}");
    assert!(page.contains("No application has access to your account."));
    let (status, error) = error_of(
        app.post_token(
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            Some(("app", &secret)),
        )
        .await,
    )
    .await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
}

#[tokio::test]
async fn the_account_page_tells_events_and_keeps_an_audit_trail() {
    let app = spawn_app().await;
    let user_id = app.create_user("alice", PASSWORD).await;
    app.create_client(ClientSpec::default()).await.unwrap();
    let (id, now) = (user_id.clone(), app.now());
    app.ctx
        .db
        .write(move |conn| {
            portcullis::store::authorization::save_consent(conn, &id, "app", "openid email", now)
        })
        .await
        .unwrap();
    let mut events = app.ctx.events.subscribe();
    let (here, elsewhere) = (Browser::new(), Browser::new());
    sign_in(&app, &elsewhere, "alice", PASSWORD).await;
    let page = sign_in(&app, &here, "alice", PASSWORD).await;
    assert!(
        page.contains("allowed <code>openid email</code>"),
        "a remembered consent is listed: {page}"
    );
    let csrf = hidden(&page, "csrf_token");
    let account = format!("{}/account", app.address);

    post(
        &here,
        &format!("{account}/profile"),
        &[
            ("csrf_token", &csrf),
            ("name", "Alice"),
            ("email", "a@example.org"),
        ],
    )
    .await;
    let res = post(
        &here,
        &format!("{account}/password"),
        &[
            ("csrf_token", &csrf),
            ("current_password", PASSWORD),
            ("new_password", NEW_PASSWORD),
            ("confirm_password", NEW_PASSWORD),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let portcullis::events::Event::SessionEnded {
        user_id: ended_for,
        reason,
        ..
    } = tokio::time::timeout(std::time::Duration::from_secs(5), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended_for, user_id);
    assert_eq!(
        reason,
        portcullis::events::SessionEndReason::PasswordChanged
    );
    assert!(events.try_recv().is_err(), "only the other session ended");

    let res = post(
        &here,
        &format!("{account}/applications/revoke"),
        &[("csrf_token", &csrf), ("client_id", "app")],
    )
    .await;
    assert_eq!(res.status(), 303);
    let id = user_id.clone();
    let (consent, trail) = app
        .ctx
        .db
        .run(move |conn| {
            Ok::<_, portcullis::store::StoreError>((
                portcullis::store::authorization::find_consent(conn, &id, "app")?,
                portcullis::store::audit::list_since(conn, 0, 1000)?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(consent, None, "the consent is forgotten");
    let actions: Vec<&str> = trail
        .iter()
        .filter(|e| e.actor == user_id)
        .map(|e| e.action.as_str())
        .collect();
    for action in [
        "user.profile_updated",
        "user.password_set",
        "consent.revoked",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}
