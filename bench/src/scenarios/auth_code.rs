//! The authorization-code scenarios: a browser's login (authorize, login
//! page, credentials, resume) and the client's code exchange with PKCE,
//! every step checked. The steps are shared with the second-factor and
//! passkey logins (`totp.rs`, `passkey.rs`), which differ only in how the
//! person proves who they are.

use base64::Engine;
use hyper::Method;

use crate::fixture::{Fixture, CALLBACK, PASSWORD};
use crate::http::{basic, cookie, enc, expect, form, header, Conn, Reply};

const VERIFIER: &str = "bench-verifier-0123456789-0123456789-0123456789";

/// The login page a fresh authorization request at `client` led to.
pub struct LoginPage {
    /// `portcullis_flow=…`, for every later browser request.
    pub flow_cookie: String,
    pub html: String,
    pub request: String,
    pub csrf: String,
}

/// Login + code + token, as a browser and a client would.
pub async fn auth_code_flow(conn: &mut Conn, f: &Fixture) -> Result<(), String> {
    let page = login_page(conn, f, "web").await?;
    let r = password_login(conn, &page, "bench").await?;
    expect(&r, 303)?;
    let session = cookie(&r, "portcullis_session").ok_or("no session cookie")?;
    resume_and_exchange(conn, f, "web", &page, &session, &header(&r, "location")?).await
}

/// GET /authorize (with PKCE) and the login page it redirects to.
pub async fn login_page(conn: &mut Conn, f: &Fixture, client: &str) -> Result<LoginPage, String> {
    let challenge = {
        use sha2::Digest;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(VERIFIER.as_bytes()))
    };
    let authorize = format!(
        "/authorize?response_type=code&client_id={client}&redirect_uri={}&scope=openid&state=s&code_challenge={challenge}&code_challenge_method=S256",
        enc(CALLBACK)
    );
    let r = conn.send(Method::GET, &authorize, &[], None).await?;
    expect(&r, 303)?;
    let location = header(&r, "location")?;
    let flow = cookie(&r, "portcullis_flow").ok_or("no flow cookie")?;
    let flow_cookie = format!("portcullis_flow={flow}");
    let page = conn
        .send(
            Method::GET,
            f.path_of(&location)?,
            &[("cookie", &flow_cookie)],
            None,
        )
        .await?;
    expect(&page, 200)?;
    let html = String::from_utf8_lossy(&page.body).into_owned();
    let (request, csrf) = (
        hidden(&html, "request").ok_or("no request id")?,
        hidden(&html, "csrf_token").ok_or("no csrf")?,
    );
    Ok(LoginPage {
        flow_cookie,
        html,
        request,
        csrf,
    })
}

/// POST /login with `username` and the benchmark password; the answer
/// unchecked (a 303 to the resume, or to the second factor).
pub async fn password_login(
    conn: &mut Conn,
    page: &LoginPage,
    username: &str,
) -> Result<Reply, String> {
    let body = form(&[
        ("request", &page.request),
        ("csrf_token", &page.csrf),
        ("username", username),
        ("password", PASSWORD),
    ]);
    conn.send(
        Method::POST,
        "/login",
        &[("cookie", &page.flow_cookie)],
        Some(body),
    )
    .await
}

/// The signed-in browser resumes the request (`resume`: the absolute URL
/// the login redirected to), and `client` exchanges the code.
pub async fn resume_and_exchange(
    conn: &mut Conn,
    f: &Fixture,
    client: &str,
    page: &LoginPage,
    session: &str,
    resume: &str,
) -> Result<(), String> {
    let cookies = format!("{}; portcullis_session={session}", page.flow_cookie);
    let r = conn
        .send(
            Method::GET,
            f.path_of(resume)?,
            &[("cookie", &cookies)],
            None,
        )
        .await?;
    expect(&r, 303)?;
    let code = query_param(&header(&r, "location")?, "code").ok_or("no code")?;
    let body = form(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", VERIFIER),
    ]);
    let r = conn
        .send(
            Method::POST,
            "/token",
            &[("authorization", &basic(client, f.secret(client)))],
            Some(body),
        )
        .await?;
    expect(&r, 200)?;
    Ok(())
}

/// The value of `name` in a URL's query (the code in the redirect).
fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

/// The value of hidden field `name` in a page's form (the first, if
/// several forms have one).
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    html[start..].split('"').next().map(str::to_owned)
}
