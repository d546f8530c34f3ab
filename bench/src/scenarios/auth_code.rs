//! The authorization-code scenario: a browser's login (authorize, login
//! page, credentials, resume) and the client's code exchange with PKCE,
//! every step checked.

use base64::Engine;
use hyper::Method;

use crate::fixture::{Fixture, CALLBACK, PASSWORD};
use crate::http::{basic, cookie, enc, expect, form, header, Conn};

/// Login + code + token, as a browser and a client would.
pub async fn auth_code_flow(conn: &mut Conn, f: &Fixture) -> Result<(), String> {
    let verifier = "bench-verifier-0123456789-0123456789-0123456789";
    let challenge = {
        use sha2::Digest;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()))
    };
    let authorize = format!(
        "/authorize?response_type=code&client_id=web&redirect_uri={}&scope=openid&state=s&code_challenge={challenge}&code_challenge_method=S256",
        enc(CALLBACK)
    );
    let r = conn.send(Method::GET, &authorize, &[], None).await?;
    expect(&r, 303)?;
    let location = header(&r, "location")?;
    let flow = cookie(&r, "portcullis_flow").ok_or("no flow cookie")?;
    let login_path = location
        .split_once(&format!("127.0.0.1:{}", f.port))
        .map(|(_, p)| p.to_owned())
        .ok_or("bad location")?;
    let flow_cookie = format!("portcullis_flow={flow}");
    let page = conn
        .send(Method::GET, &login_path, &[("cookie", &flow_cookie)], None)
        .await?;
    expect(&page, 200)?;
    let html = String::from_utf8_lossy(&page.body);
    let (request, csrf) = (
        hidden(&html, "request").ok_or("no request id")?,
        hidden(&html, "csrf_token").ok_or("no csrf")?,
    );
    let body = form(&[
        ("request", &request),
        ("csrf_token", &csrf),
        ("username", "bench"),
        ("password", PASSWORD),
    ]);
    let r = conn
        .send(
            Method::POST,
            "/login",
            &[("cookie", &flow_cookie)],
            Some(body),
        )
        .await?;
    expect(&r, 303)?;
    let session = cookie(&r, "portcullis_session").ok_or("no session cookie")?;
    let resume = header(&r, "location")?;
    let resume_path = resume
        .split_once(&format!("127.0.0.1:{}", f.port))
        .map(|(_, p)| p.to_owned())
        .ok_or("bad location")?;
    let cookies = format!("{flow_cookie}; portcullis_session={session}");
    let r = conn
        .send(Method::GET, &resume_path, &[("cookie", &cookies)], None)
        .await?;
    expect(&r, 303)?;
    let code = query_param(&header(&r, "location")?, "code").ok_or("no code")?;
    let body = form(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", verifier),
    ]);
    let r = conn
        .send(
            Method::POST,
            "/token",
            &[("authorization", &basic("web", f.secret("web")))],
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

/// The value of hidden field `name` in the login page's form.
fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    html[start..].split('"').next().map(str::to_owned)
}
