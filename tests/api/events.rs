//! Domain events, told after the fact: every way an SSO session ends says
//! so once (back-channel logout will listen there).

use std::time::Duration;

use portcullis::events::{Event, SessionEndReason};
use tokio::sync::broadcast::Receiver;

use crate::helpers::browser::{authorize_url, hidden, login_through, sso_setup, Browser, CALLBACK};
use crate::helpers::PASSWORD;

async fn next_event(events: &mut Receiver<Event>) -> Event {
    tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("an event within 5 s")
        .expect("the event bus is open")
}

#[tokio::test]
async fn a_login_that_replaces_a_session_and_a_logout_each_end_one_with_an_event() {
    let (app, _, _) = sso_setup().await;
    let mut events = app.ctx.events.subscribe();
    let browser = Browser::new();
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[]);
    login_through(&browser, &url, "alice", PASSWORD).await;
    assert!(events.try_recv().is_err(), "a first login ends nothing");

    // prompt=login: a new login in the same browser replaces its session.
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[("prompt", "login")]);
    login_through(&browser, &url, "alice", PASSWORD).await;
    let Event::SessionEnded {
        session: replaced,
        user_id,
        reason,
    } = next_event(&mut events).await;
    assert_eq!(reason, SessionEndReason::Replaced);
    let users = app.cli(&["user", "list", "--json"], None);
    let users: serde_json::Value = serde_json::from_slice(&users.stdout).unwrap();
    assert_eq!(users[0]["sub"], user_id.as_str());

    let page = browser.get(&format!("{}/logout", app.address)).await;
    let html = page.text().await.unwrap();
    browser
        .post(
            &format!("{}/logout", app.address),
            &[("csrf_token", &hidden(&html, "csrf_token"))],
        )
        .await;
    let Event::SessionEnded {
        session: logged_out,
        user_id: same_user,
        reason,
    } = next_event(&mut events).await;
    assert_eq!(reason, SessionEndReason::Logout);
    assert_eq!(same_user, user_id);
    assert_ne!(logged_out, replaced, "the second session, not the first");

    // Logging out again ends nothing: no second event.
    browser.get(&format!("{}/logout", app.address)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(events.try_recv().is_err());
}
