//! The `authorization_code-passkey` scenario: "Sign in with a passkey" on
//! the login page (a discoverable credential, no username, no password),
//! then the resume and code exchange of `auth_code.rs`. The authenticator
//! is the server crate's software one
//! (`portcullis::accounts::webauthn::software`), the origin the issuer
//! (a host name: an address issuer offers no passkeys).
//!
//! Setup registers the passkeys as a person would, on the account page:
//! a few people, each signed in there with their password, each with one
//! passkey. The credentials are counter-less (`counter_step = 0`, as synced
//! passkeys are): they are handed round the virtual users, so two logins
//! with one credential may reach the server in either order, and a counter
//! would then seem to go backwards.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use hyper::Method;
use portcullis::accounts::webauthn::software::SoftwareAuthenticator;
use serde_json::Value;

use super::auth_code::{hidden, login_page, resume_and_exchange};
use crate::fixture::{admin_token, create_user, Fixture, PASSWORD};
use crate::http::{cookie, expect, form, header, json, Conn};

/// The authorization-code client the passkey logins go through (the
/// password scenario's).
const CLIENT: &str = "web";

/// People with a passkey: more than the virtual users that sign in at
/// once, so that they seldom wait for one another's authenticator.
const PASSKEYS: usize = 16;

const ACCOUNT_CSRF_COOKIE: &str = "portcullis_account_csrf";

/// The authenticators, each holding one registered passkey, taken in turn.
pub struct Passkeys {
    authenticators: Vec<Mutex<SoftwareAuthenticator>>,
    next: AtomicUsize,
}

impl Passkeys {
    /// The next authenticator's answer to request options at `origin`.
    fn assert(&self, options: &Value, origin: &str) -> Result<String, String> {
        let n = self.authenticators.len().max(1);
        let i = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let mut authenticator = self
            .authenticators
            .get(i)
            .ok_or("no passkey was registered")?
            .lock()
            .map_err(|_| "an authenticator panicked")?;
        authenticator.assert(options, origin)
    }
}

/// `PASSKEYS` people, each registering a passkey on the account page.
pub async fn prepare(f: &Fixture) -> Result<Passkeys, String> {
    let mut conn = Conn::open(f.port).await?;
    let token = admin_token(&mut conn, f).await?;
    let run = std::process::id();
    let mut authenticators = Vec::with_capacity(PASSKEYS);
    for i in 0..PASSKEYS {
        let name = format!("passkey-{run}-{i}");
        create_user(&mut conn, &token, &name).await?;
        authenticators.push(Mutex::new(register(&mut conn, f, &name).await?));
    }
    Ok(Passkeys {
        authenticators,
        next: AtomicUsize::new(0),
    })
}

/// Signs `name` in on the account page and registers a passkey there;
/// the authenticator that holds it.
async fn register(
    conn: &mut Conn,
    f: &Fixture,
    name: &str,
) -> Result<SoftwareAuthenticator, String> {
    let r = conn.send(Method::GET, "/account", &[], None).await?;
    expect(&r, 200)?;
    let csrf_cookie = cookie(&r, ACCOUNT_CSRF_COOKIE).ok_or("no account csrf cookie")?;
    let csrf = hidden(&String::from_utf8_lossy(&r.body), "csrf_token")
        .ok_or("no csrf on the account sign-in form")?;
    let csrf_cookie = format!("{ACCOUNT_CSRF_COOKIE}={csrf_cookie}");
    let body = form(&[
        ("csrf_token", &csrf),
        ("username", name),
        ("password", PASSWORD),
    ]);
    let r = conn
        .send(
            Method::POST,
            "/account/login",
            &[("cookie", &csrf_cookie)],
            Some(body),
        )
        .await?;
    expect(&r, 303)?;
    let session = cookie(&r, "portcullis_session").ok_or("no session from the account sign-in")?;
    let cookies = format!("{csrf_cookie}; portcullis_session={session}");
    let r = conn
        .send(Method::GET, "/account", &[("cookie", &cookies)], None)
        .await?;
    expect(&r, 200)?;
    let csrf = hidden(&String::from_utf8_lossy(&r.body), "csrf_token")
        .ok_or("no csrf on the account page")?;
    let r = conn
        .send(
            Method::POST,
            "/account/passkeys/options",
            &[("cookie", &cookies)],
            Some(form(&[("csrf_token", &csrf)])),
        )
        .await?;
    expect(&r, 200)?;
    let options = json(&r)?;
    let ceremony = options["ceremony"]
        .as_str()
        .ok_or("no ceremony in the creation options")?;
    let mut authenticator = SoftwareAuthenticator::new();
    authenticator.counter_step = 0;
    let credential = authenticator.register(&options["publicKey"], &f.issuer)?;
    let body = form(&[
        ("csrf_token", &csrf),
        ("ceremony", ceremony),
        ("credential", &credential),
        ("name", "bench"),
    ]);
    let r = conn
        .send(
            Method::POST,
            "/account/passkeys",
            &[("cookie", &cookies)],
            Some(body),
        )
        .await?;
    // A person's first factor comes with recovery codes, shown once (200);
    // later ones go back to the account page (303).
    match r.status.as_u16() {
        303 => {}
        200 if String::from_utf8_lossy(&r.body).contains("done=passkey-added") => {}
        _ => expect(&r, 303)?,
    }
    Ok(authenticator)
}

/// One passkey login, then the code exchange.
pub async fn flow(conn: &mut Conn, f: &Fixture, passkeys: &Passkeys) -> Result<(), String> {
    let page = login_page(conn, f, CLIENT).await?;
    if !page.html.contains("name=\"ceremony\"") {
        return Err("the login page offers no passkey (an address issuer?)".into());
    }
    let r = conn
        .send(
            Method::POST,
            "/login/passkey/options",
            &[("cookie", &page.flow_cookie)],
            Some(form(&[
                ("request", &page.request),
                ("csrf_token", &page.csrf),
            ])),
        )
        .await?;
    expect(&r, 200)?;
    let options = json(&r)?;
    let ceremony = options["ceremony"]
        .as_str()
        .ok_or("no ceremony in the request options")?;
    let credential = passkeys.assert(&options["publicKey"], &f.issuer)?;
    let body = form(&[
        ("request", &page.request),
        ("csrf_token", &page.csrf),
        ("ceremony", ceremony),
        ("credential", &credential),
    ]);
    let r = conn
        .send(
            Method::POST,
            "/login/passkey",
            &[("cookie", &page.flow_cookie)],
            Some(body),
        )
        .await?;
    expect(&r, 303)?;
    let session = cookie(&r, "portcullis_session").ok_or("no session cookie")?;
    resume_and_exchange(conn, f, CLIENT, &page, &session, &header(&r, "location")?).await
}
