//! Second factors at login: TOTP and recovery codes after the password,
//! step-up through `acr_values`, the policies, and what the ID token says.

mod login;
mod passkeys;
mod policy;
mod step_up;

use crate::helpers::browser::{hidden, location, Browser};
use crate::helpers::TestApp;

/// Signs in on the login page an authorization request leads to; returns
/// the response to the password (a redirect to the second factor, or on).
pub async fn password_step(
    browser: &Browser,
    authorize_url: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    let login_url = location(&browser.get(authorize_url).await);
    assert!(login_url.contains("/login?request="), "{login_url}");
    let html = browser.get(&login_url).await.text().await.unwrap();
    let base = login_url.split("/login").next().unwrap().to_owned();
    browser.submit_login(&base, &html, username, password).await
}

/// Posts a code on the second-factor page (`method`: totp or recovery).
pub async fn give_code(
    app: &TestApp,
    browser: &Browser,
    method: &str,
    code: &str,
) -> reqwest::Response {
    let page = browser
        .get(&format!("{}/login/second-factor", app.address))
        .await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    browser
        .post(
            &format!("{}/login/second-factor", app.address),
            &[
                ("csrf_token", &hidden(&html, "csrf_token")),
                ("method", method),
                ("code", code),
            ],
        )
        .await
}

/// Follows a redirect to `/authorize/continue` on to the client's callback.
pub async fn to_callback(browser: &Browser, res: reqwest::Response) -> String {
    let resume = location(&res);
    assert!(resume.contains("/authorize/continue"), "{resume}");
    location(&browser.get(&resume).await)
}

/// The claims of a signed JWT, verified against the server's JWKS (an ID
/// token has `typ: JWT`; its `aud` is the client).
pub async fn id_token_claims(app: &TestApp, token: &str, client_id: &str) -> serde_json::Value {
    let header = jsonwebtoken::decode_header(token).unwrap();
    let jwks = app.jwks().await;
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[client_id]);
    validation.set_issuer(&[&app.address]);
    jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
        .expect("the ID token verifies against the JWKS")
        .claims
}
