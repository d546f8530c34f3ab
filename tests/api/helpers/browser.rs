//! A browser for the authorization-code flow over plain HTTP: a cookie jar,
//! redirects left for the test to follow, and the steps of a login.

use openidconnect::PkceCodeChallenge;
use portcullis::oauth::clients::GrantType;

use super::{spawn_app_with, AppOptions, ClientSpec, TestApp, PASSWORD};

/// The redirect URI of the `web` client of [`sso_setup`].
pub const CALLBACK: &str = "http://127.0.0.1:9/callback";
/// The redirect URI of the `other` client of [`sso_setup`].
pub const SECOND_CALLBACK: &str = "http://localhost:9/cb";
/// The post-logout redirect URI of the `web` client of [`sso_setup`].
pub const LOGGED_OUT: &str = "http://127.0.0.1:9/bye";

/// A browser: a cookie jar, and redirects left for the test to follow.
pub struct Browser {
    pub http: reqwest::Client,
}

impl Browser {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Browser { http }
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.http.get(url).send().await.unwrap()
    }

    pub async fn post(&self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http.post(url).form(form).send().await.unwrap()
    }

    /// Fills in the login page `html` (its pending request and CSRF token)
    /// with `username` and `password`, and posts it to `{base}/login`.
    pub async fn submit_login(
        &self,
        base: &str,
        html: &str,
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        self.post(
            &format!("{base}/login"),
            &[
                ("request", &hidden(html, "request")),
                ("csrf_token", &hidden(html, "csrf_token")),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }
}

pub fn location(res: &reqwest::Response) -> String {
    assert_eq!(res.status(), 303, "expected a redirect from {}", res.url());
    res.headers()["location"].to_str().unwrap().to_owned()
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).unwrap();
    url.query_pairs()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

/// The value of a hidden input in a page.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in page"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// Follows an authorization request through the login page; returns the
/// URL the browser is finally sent to (the client's callback).
pub async fn login_through(
    browser: &Browser,
    authorize_url: &str,
    username: &str,
    password: &str,
) -> String {
    let login_url = location(&browser.get(authorize_url).await);
    assert!(login_url.contains("/login?request="), "{login_url}");
    let page = browser.get(&login_url).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let base = login_url.split("/login").next().unwrap().to_owned();
    let res = browser.submit_login(&base, &html, username, password).await;
    let resume = location(&res);
    location(&browser.get(&resume).await)
}

/// An authorization request for `openid profile email` with state
/// `st4te`, nonce `n0nce`, PKCE (S256) and `extra` parameters; returns the
/// URL and the PKCE verifier.
pub fn authorize_url(
    app: &TestApp,
    client_id: &str,
    redirect: &str,
    extra: &[(&str, &str)],
) -> (String, String) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut url = reqwest::Url::parse(&format!("{}/authorize", app.address)).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect)
        .append_pair("scope", "openid profile email")
        .append_pair("state", "st4te")
        .append_pair("nonce", "n0nce")
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        url.query_pairs_mut().append_pair(k, v);
    }
    (url.to_string(), verifier.secret().to_owned())
}

/// Redeems an authorization code at the token endpoint.
pub async fn exchange(
    app: &TestApp,
    client: (&str, &str),
    code: &str,
    redirect: &str,
    verifier: &str,
) -> reqwest::Response {
    app.post_token(
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
        ],
        Some(client),
    )
    .await
}

/// A server with the user alice and two confidential clients for the code
/// flow: `web` (redirects to [`CALLBACK`], logs out to [`LOGGED_OUT`]) and
/// `other` (redirects to [`SECOND_CALLBACK`]); returns their secrets.
pub async fn sso_setup() -> (TestApp, String, String) {
    sso_setup_with(AppOptions::default()).await
}

pub async fn sso_setup_with(options: AppOptions) -> (TestApp, String, String) {
    let app = spawn_app_with(options).await;
    app.create_user("alice", PASSWORD).await;
    let web = app
        .create_client(ClientSpec {
            id: "web",
            grants: &[GrantType::AuthorizationCode, GrantType::RefreshToken],
            redirect_uris: &[CALLBACK],
            post_logout_redirect_uris: &[LOGGED_OUT],
            ..Default::default()
        })
        .await
        .unwrap();
    let other = app
        .create_client(ClientSpec {
            id: "other",
            grants: &[GrantType::AuthorizationCode, GrantType::RefreshToken],
            redirect_uris: &[SECOND_CALLBACK],
            ..Default::default()
        })
        .await
        .unwrap();
    (app, web, other)
}
