//! The `authorization_code-totp` scenario: the authorization-code login of
//! `auth_code.rs` with an authenticator-app code after the password
//! (RFC 6238: HMAC-SHA-1, 30-s steps, 6 digits), computed here from the
//! secret the enrolment page showed.
//!
//! Why a pool of users: the server takes a code only for a step later than
//! the last it accepted from that person, within one step of its clock
//! either way. One person can therefore sign in at most three times in a
//! 30-s step (and once more per step after), far below the rate a login
//! runs at (one Argon2id each: about 90 a second on 2 cores). So setup
//! makes enough people, each enrolled through a client that requires a
//! second factor, and every iteration takes the person whose next usable
//! step is earliest.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use hyper::Method;

use super::auth_code::{hidden, login_page, password_login, resume_and_exchange, LoginPage};
use crate::fixture::{admin_token, create_user, Fixture, MFA_CLIENT};
use crate::http::{cookie, expect, form, header, Conn};

/// RFC 6238's step, and the server's skew (one step either way).
const STEP_SECS: f64 = 30.0;
const SKEW_STEPS: i64 = 1;

/// A code is chosen when an iteration starts and checked a few requests
/// (one Argon2id) later: the step must be in the server's window at both
/// ends of that time, taken as this wide on either side.
const MARGIN_SECS: f64 = 3.0;

/// More logins a second than this machine runs (2 cores: about 90 password
/// logins a second at c = 16): the pool is sized so that it does not run
/// out at this rate.
const EXPECTED_LOGINS_PER_SECOND: f64 = 150.0;

/// Setup's own concurrency (user creation and enrolment, one Argon2id
/// each).
const SETUP_CONNECTIONS: usize = 4;

const LOGIN_COOKIE: &str = "portcullis_login";

/// The enrolled people, and the last step each had accepted.
pub struct Pool {
    users: Vec<(String, Vec<u8>)>,
    /// Last step accepted per user, and where the next search starts.
    state: Mutex<(Vec<i64>, usize)>,
}

impl Pool {
    fn new(users: Vec<(String, Vec<u8>)>, last: Vec<i64>) -> Pool {
        Pool {
            users,
            state: Mutex::new((last, 0)),
        }
    }

    /// A user and a step no login used before that the server takes both
    /// now and `MARGIN_SECS` from now: the earliest such step of all users
    /// (a step now-1 is lost first), recorded as theirs.
    fn take(&self, now: f64) -> Option<(usize, i64)> {
        let lo = step_at(now + MARGIN_SECS) - SKEW_STEPS;
        let hi = step_at(now - MARGIN_SECS) + SKEW_STEPS;
        let mut guard = self.state.lock().ok()?;
        let (last, cursor) = &mut *guard;
        let n = last.len();
        let mut best: Option<(usize, i64)> = None;
        for k in 0..n {
            let i = (*cursor + k) % n;
            let step = (last[i] + 1).max(lo);
            if step <= hi && best.is_none_or(|(_, b)| step < b) {
                best = Some((i, step));
                if step == lo {
                    break;
                }
            }
        }
        let (i, step) = best?;
        last[i] = step;
        *cursor = (i + 1) % n;
        Some((i, step))
    }
}

/// How many people a window of `window` needs: each gives at least two
/// logins in the step it starts in (the margin may cost one of the three,
/// the enrolment another), and one more for every step the window spans.
fn pool_size(window: Duration) -> usize {
    let secs = window.as_secs_f64();
    let per_user = 2.0 + (secs / STEP_SECS).floor();
    ((EXPECTED_LOGINS_PER_SECOND * secs / per_user).ceil() as usize).max(SETUP_CONNECTIONS)
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn step_at(unix: f64) -> i64 {
    (unix / STEP_SECS).floor() as i64
}

/// RFC 6238 / RFC 4226: the 6-digit code of `step`.
pub fn code(secret: &[u8], step: i64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let mac = hmac::sign(&key, &step.to_be_bytes());
    let mac = mac.as_ref();
    let offset = (mac[mac.len() - 1] & 0x0f) as usize;
    let binary = u32::from_be_bytes([
        mac[offset] & 0x7f,
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]);
    format!("{:06}", binary % 1_000_000)
}

/// RFC 4648 base32 (padding and spaces ignored, either case).
pub fn base32_decode(s: &str) -> Result<Vec<u8>, String> {
    let (mut out, mut buffer, mut bits) = (Vec::new(), 0u32, 0u32);
    for c in s.chars().filter(|c| *c != '=' && !c.is_whitespace()) {
        let v = match c.to_ascii_uppercase() {
            c @ 'A'..='Z' => c as u32 - 'A' as u32,
            c @ '2'..='7' => c as u32 - '2' as u32 + 26,
            _ => return Err(format!("not base32: {c:?}")),
        };
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Ok(out)
}

/// Makes and enrols the pool: an admin token, then on a few connections at
/// once each person through `POST /admin/users` and a login at the client
/// that requires a second factor, which leads them through the enrolment.
pub async fn prepare(f: &Fixture, window: Duration) -> Result<Pool, String> {
    let size = pool_size(window);
    let token = admin_token(&mut Conn::open(f.port).await?, f).await?;
    let run = std::process::id();
    let mut tasks = tokio::task::JoinSet::new();
    let f = std::sync::Arc::new(f.clone());
    let token = std::sync::Arc::new(token);
    for worker in 0..SETUP_CONNECTIONS {
        let (f, token) = (f.clone(), token.clone());
        tasks.spawn(async move {
            let mut conn = Conn::open(f.port).await?;
            let mut made = Vec::new();
            for i in (worker..size).step_by(SETUP_CONNECTIONS) {
                let name = format!("totp-{run}-{i}");
                made.push((i, enrol(&mut conn, &f, &token, &name).await?));
            }
            Ok::<_, String>(made)
        });
    }
    let mut all = Vec::with_capacity(size);
    while let Some(done) = tasks.join_next().await {
        all.extend(done.map_err(|e| e.to_string())??);
    }
    all.sort_by_key(|(i, _)| *i);
    let (users, last) = all
        .into_iter()
        .map(|(_, (name, secret, step))| ((name, secret), step))
        .unzip();
    Ok(Pool::new(users, last))
}

/// One person: created, then signed in at the MFA client and enrolled
/// with the code of the earliest step the server takes; their name,
/// secret and that step.
async fn enrol(
    conn: &mut Conn,
    f: &Fixture,
    token: &str,
    name: &str,
) -> Result<(String, Vec<u8>, i64), String> {
    create_user(conn, token, name).await?;
    let page = login_page(conn, f, MFA_CLIENT).await?;
    let login_cookie = password_step(conn, f, &page, name).await?;
    let cookies = format!("{}; {LOGIN_COOKIE}={login_cookie}", page.flow_cookie);
    let r = conn
        .send(
            Method::GET,
            "/login/second-factor",
            &[("cookie", &cookies)],
            None,
        )
        .await?;
    expect(&r, 200)?;
    let html = String::from_utf8_lossy(&r.body);
    let secret = html
        .split_once("<code id=\"totp-secret\">")
        .and_then(|(_, rest)| rest.split_once("</code>"))
        .map(|(s, _)| s.trim().to_owned())
        .ok_or("no TOTP secret on the enrolment page (is the client's --require-mfa set?)")?;
    if !html.contains("action=\"/login/enrol\"") {
        return Err("the enrolment page does not post to /login/enrol".into());
    }
    let csrf = hidden(&html, "csrf_token").ok_or("no csrf on the enrolment page")?;
    let secret = base32_decode(&secret)?;
    let step = step_at(unix_now() + MARGIN_SECS) - SKEW_STEPS;
    let body = form(&[("csrf_token", &csrf), ("code", &code(&secret, step))]);
    let r = conn
        .send(
            Method::POST,
            "/login/enrol",
            &[("cookie", &cookies)],
            Some(body),
        )
        .await?;
    expect(&r, 200)?;
    Ok((name.to_owned(), secret, step))
}

/// The password step of a login whose person has (or needs) a second
/// factor: it must lead to the second-factor page; the `portcullis_login`
/// cookie it set.
async fn password_step(
    conn: &mut Conn,
    f: &Fixture,
    page: &LoginPage,
    username: &str,
) -> Result<String, String> {
    let r = password_login(conn, page, username).await?;
    expect(&r, 303)?;
    let location = header(&r, "location")?;
    if f.path_of(&location)? != "/login/second-factor" {
        return Err(format!(
            "the password led to {location}, not the second factor"
        ));
    }
    cookie(&r, LOGIN_COOKIE).ok_or_else(|| "no portcullis_login cookie".into())
}

/// One login with a TOTP code, then the code exchange.
pub async fn flow(conn: &mut Conn, f: &Fixture, pool: &Pool) -> Result<(), String> {
    let Some((i, step)) = pool.take(unix_now()) else {
        // Not a spin of errors that would take the cores from the server.
        tokio::time::sleep(Duration::from_millis(100)).await;
        return Err("every user of the pool spent the codes the server would take: a larger EXPECTED_LOGINS_PER_SECOND in totp.rs".into());
    };
    let (name, secret) = &pool.users[i];
    let page = login_page(conn, f, MFA_CLIENT).await?;
    let login_cookie = password_step(conn, f, &page, name).await?;
    let cookies = format!("{}; {LOGIN_COOKIE}={login_cookie}", page.flow_cookie);
    let r = conn
        .send(
            Method::GET,
            "/login/second-factor",
            &[("cookie", &cookies)],
            None,
        )
        .await?;
    expect(&r, 200)?;
    let csrf = hidden(&String::from_utf8_lossy(&r.body), "csrf_token")
        .ok_or("no csrf on the second-factor page")?;
    let body = form(&[
        ("csrf_token", &csrf),
        ("method", "totp"),
        ("code", &code(secret, step)),
    ]);
    let r = conn
        .send(
            Method::POST,
            "/login/second-factor",
            &[("cookie", &cookies)],
            Some(body),
        )
        .await?;
    expect(&r, 303)?;
    let session = cookie(&r, "portcullis_session").ok_or("no session cookie")?;
    resume_and_exchange(
        conn,
        f,
        MFA_CLIENT,
        &page,
        &session,
        &header(&r, "location")?,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_rfc_6238s() {
        // RFC 6238 Appendix B, SHA-1, the last 6 of its 8 digits.
        let secret = b"12345678901234567890";
        for (t, expected) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(code(secret, t / 30), expected, "T = {t}");
        }
    }

    #[test]
    fn base32_decodes_rfc_4648s_vectors() {
        assert_eq!(base32_decode("MZXW6YTBOI======").unwrap(), b"foobar");
        assert_eq!(base32_decode("mzxw6ytb").unwrap(), b"fooba");
        assert_eq!(
            base32_decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap(),
            b"12345678901234567890"
        );
        assert!(base32_decode("MZ1W").is_err());
    }

    #[test]
    fn the_pool_hands_out_each_step_once_earliest_first() {
        let now = 30.0 * 1000.0 + 10.0; // step 1000, 10 s in
        let pool = Pool::new(
            vec![("a".into(), vec![]), ("b".into(), vec![])],
            vec![0, 999],
        );
        // Step 999 (now-1) first, for a: b already used it.
        assert_eq!(pool.take(now), Some((0, 999)));
        assert_eq!(pool.take(now), Some((1, 1000)));
        assert_eq!(pool.take(now), Some((0, 1000)));
        assert_eq!(pool.take(now), Some((1, 1001)));
        assert_eq!(pool.take(now), Some((0, 1001)));
        assert_eq!(pool.take(now), None, "every step of the window is spent");
        // A step later, one more each.
        assert_eq!(pool.take(now + 30.0).map(|(_, s)| s), Some(1002));
        // Near a step's end, now+1 is too close to the next window's edge.
        let pool = Pool::new(vec![("a".into(), vec![])], vec![0]);
        let late = 30.0 * 1000.0 + 28.0;
        assert_eq!(pool.take(late), Some((0, 1000)), "999 would be gone in 3 s");
        assert_eq!(pool.take(late), Some((0, 1001)));
        assert_eq!(pool.take(late), None);
    }

    #[test]
    fn the_pool_grows_with_the_window() {
        assert!(pool_size(Duration::from_secs(2)) >= 150);
        assert!(pool_size(Duration::from_secs(10)) >= 750);
        // A longer window needs more people, but fewer per second of it.
        let (ten, sixty) = (
            pool_size(Duration::from_secs(10)),
            pool_size(Duration::from_secs(60)),
        );
        assert!(sixty > ten && sixty < ten * 6);
    }
}
