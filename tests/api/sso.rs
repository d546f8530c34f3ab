//! Single sign-on: the authorization-code flow with PKCE, driven over HTTP
//! with a cookie jar, and `openidconnect` as the relying party.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use portcullis::oauth::clients::GrantType;
use serde_json::Value;

use crate::helpers::browser::{
    authorize_url, exchange, hidden, location, login_through, query_param, sso_setup,
    sso_setup_with, Browser, CALLBACK, LOGGED_OUT, SECOND_CALLBACK,
};
use crate::helpers::{spawn_app, unverified_claims, AppOptions, ClientSpec, PASSWORD};

#[tokio::test]
async fn an_openidconnect_relying_party_logs_in_with_pkce_and_verifies_the_id_token() {
    let (app, secret, _) = sso_setup().await;
    let provider = CoreProviderMetadata::discover_async(
        IssuerUrl::new(app.address.clone()).unwrap(),
        &app.http,
    )
    .await
    .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        provider,
        ClientId::new("web".into()),
        Some(ClientSecret::new(secret)),
    )
    .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();

    let browser = Browser::new();
    let callback = login_through(&browser, url.as_str(), "alice", PASSWORD).await;
    assert!(callback.starts_with(CALLBACK), "{callback}");
    assert_eq!(
        query_param(&callback, "state").as_deref(),
        Some(state.secret().as_str())
    );
    assert_eq!(
        query_param(&callback, "iss").as_deref(),
        Some(app.address.as_str()),
        "RFC 9207"
    );
    let code = query_param(&callback, "code").unwrap();
    assert!(code.len() >= 22, "at least 128 bits");

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&app.http)
        .await
        .expect("code exchange");
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("ID token verifies (signature, iss, aud, exp, nonce)");
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected_hash));
    assert!(claims.auth_time().is_some());
    assert_eq!(
        claims.preferred_username().map(|u| u.as_str()),
        Some("alice")
    );
    assert_eq!(claims.email().map(|e| e.as_str()), Some("user@example.com"));
    assert!(tokens.refresh_token().is_some());

    let userinfo: CoreUserInfoClaims = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(&app.http)
        .await
        .expect("userinfo");
    assert_eq!(
        userinfo.preferred_username().map(|u| u.as_str()),
        Some("alice")
    );

    // The access token also verifies as an RFC 9068 token against the JWKS.
    let at = app
        .verify_access_token(tokens.access_token().secret(), &app.address)
        .await
        .unwrap();
    assert_eq!(at["sub"], claims.subject().as_str());
}

#[tokio::test]
async fn one_login_serves_a_second_client_without_a_prompt() {
    let (app, _, other) = sso_setup_with(AppOptions {
        manual_clock: true,
        ..Default::default()
    })
    .await;
    let browser = Browser::new();
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[]);
    login_through(&browser, &url, "alice", PASSWORD).await;

    let (url, verifier) = authorize_url(&app, "other", SECOND_CALLBACK, &[]);
    let callback = location(&browser.get(&url).await);
    assert!(
        callback.starts_with(SECOND_CALLBACK),
        "no login page the second time: {callback}"
    );
    let code = query_param(&callback, "code").unwrap();
    let res = exchange(&app, ("other", &other), &code, SECOND_CALLBACK, &verifier).await;
    assert_eq!(res.status(), 200);

    // prompt=login forces a new login despite the session.
    let (url, _) = authorize_url(&app, "other", SECOND_CALLBACK, &[("prompt", "login")]);
    assert!(location(&browser.get(&url).await).contains("/login?request="));
    // max_age=0 after a second has passed forces one as well.
    app.advance(1);
    let (url, _) = authorize_url(&app, "other", SECOND_CALLBACK, &[("max_age", "0")]);
    assert!(location(&browser.get(&url).await).contains("/login?request="));
    // And prompt=login is satisfied by the login it asked for.
    let (url, _) = authorize_url(&app, "other", SECOND_CALLBACK, &[("prompt", "login")]);
    let callback = login_through(&browser, &url, "alice", PASSWORD).await;
    assert!(query_param(&callback, "code").is_some(), "{callback}");
}

#[tokio::test]
async fn prompt_none_without_a_session_is_login_required() {
    let (app, _, _) = sso_setup().await;
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[("prompt", "none")]);
    let callback = location(&Browser::new().get(&url).await);
    assert!(callback.starts_with(CALLBACK));
    assert_eq!(
        query_param(&callback, "error").as_deref(),
        Some("login_required")
    );
    assert_eq!(query_param(&callback, "state").as_deref(), Some("st4te"));
    assert_eq!(
        query_param(&callback, "iss").as_deref(),
        Some(app.address.as_str())
    );
}

#[tokio::test]
async fn a_replayed_code_is_refused_and_revokes_what_it_bought() {
    let (app, secret, _) = sso_setup().await;
    let (url, verifier) = authorize_url(&app, "web", CALLBACK, &[]);
    let callback = login_through(&Browser::new(), &url, "alice", PASSWORD).await;
    let code = query_param(&callback, "code").unwrap();
    let first: Value = exchange(&app, ("web", &secret), &code, CALLBACK, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let refresh = first["refresh_token"].as_str().unwrap();

    let replay = exchange(&app, ("web", &secret), &code, CALLBACK, &verifier).await;
    assert_eq!(replay.status(), 400);
    assert_eq!(
        replay.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    let res = app
        .post_token(
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
            Some(("web", &secret)),
        )
        .await;
    assert_eq!(
        res.status(),
        400,
        "the refresh token bought with the code is revoked"
    );
}

#[tokio::test]
async fn pkce_and_redirect_uri_are_checked_at_the_token_endpoint() {
    let (app, secret, _) = sso_setup().await;
    let browser = Browser::new();
    let (url, verifier) = authorize_url(&app, "web", CALLBACK, &[]);
    let callback = login_through(&browser, &url, "alice", PASSWORD).await;
    let code = query_param(&callback, "code").unwrap();

    let wrong_verifier = "x".repeat(43);
    let res = exchange(&app, ("web", &secret), &code, CALLBACK, &wrong_verifier).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
    let res = exchange(
        &app,
        ("web", &secret),
        &code,
        "http://127.0.0.1:9/other",
        &verifier,
    )
    .await;
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
    let res = app
        .post_token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
            ],
            Some(("web", &secret)),
        )
        .await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_grant",
        "the verifier is required"
    );
    // None of the failures spent the code.
    let res = exchange(&app, ("web", &secret), &code, CALLBACK, &verifier).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn untrusted_redirects_get_a_page_and_other_errors_go_back_to_the_client() {
    let (app, _, _) = sso_setup().await;
    let browser = Browser::new();
    for (client, redirect) in [
        ("web", "http://127.0.0.1:9/evil"),
        ("nobody", CALLBACK),
        ("web", "http://127.0.0.1:9/callback/"),
    ] {
        let (url, _) = authorize_url(&app, client, redirect, &[]);
        let res = browser.get(&url).await;
        assert_eq!(res.status(), 400, "{client} {redirect}");
        assert!(
            res.headers().get("location").is_none(),
            "never an open redirector"
        );
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
    }
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("request", "eyJhbGciOiJub25lIn0.e30.")],
            "request_not_supported",
        ),
        (
            &[("request_uri", "https://example.com/r")],
            "request_uri_not_supported",
        ),
        (&[("prompt", "none login")], "invalid_request"),
    ];
    for (extra, error) in cases {
        let (url, _) = authorize_url(&app, "web", CALLBACK, extra);
        let callback = location(&browser.get(&url).await);
        assert_eq!(
            query_param(&callback, "error").as_deref(),
            Some(*error),
            "{callback}"
        );
        assert_eq!(query_param(&callback, "state").as_deref(), Some("st4te"));
    }
    let url = format!(
        "{}/authorize?response_type=code&client_id=web&redirect_uri={}&state=s&code_challenge_method=plain&code_challenge={}",
        app.address,
        CALLBACK,
        "a".repeat(43)
    );
    assert_eq!(
        query_param(&location(&browser.get(&url).await), "error").as_deref(),
        Some("invalid_request")
    );

    // POST /authorize works like GET.
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[]);
    let query: Vec<(String, String)> = reqwest::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let res = browser
        .http
        .post(format!("{}/authorize", app.address))
        .form(&query)
        .send()
        .await
        .unwrap();
    assert!(location(&res).contains("/login?request="));
}

#[tokio::test]
async fn the_login_form_needs_its_csrf_token_and_says_nothing_about_who_exists() {
    let (app, _, _) = sso_setup().await;
    let browser = Browser::new();
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[("login_hint", "alice")]);
    let login_url = location(&browser.get(&url).await);
    let page = browser.get(&login_url).await;
    let headers = page.headers().clone();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("value=\"alice\""),
        "login_hint prefills the username"
    );
    assert!(
        html.contains("<strong>web</strong>"),
        "the client's name is shown"
    );
    assert!(!html.contains("<script"), "no script");
    let request = hidden(&html, "request");
    let login = format!("{}/login", app.address);

    let res = browser
        .post(
            &login,
            &[
                ("request", &request),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), 400, "no CSRF token, no login");
    assert!(res.headers().get("set-cookie").is_none());
    // A CSRF token from another browser's page does not help either.
    let other = Browser::new();
    let (url2, _) = authorize_url(&app, "web", CALLBACK, &[]);
    let other_html = other
        .get(&location(&other.get(&url2).await))
        .await
        .text()
        .await
        .unwrap();
    let res = browser
        .post(
            &login,
            &[
                ("request", &hidden(&other_html, "request")),
                ("csrf_token", &hidden(&other_html, "csrf_token")),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        res.status(),
        400,
        "the pending request is bound to the browser that started it"
    );

    let csrf = hidden(&html, "csrf_token");
    let wrong = browser
        .post(
            &login,
            &[
                ("request", &request),
                ("csrf_token", &csrf),
                ("username", "alice"),
                ("password", "nope nope nope"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), 401);
    let wrong_body = wrong.text().await.unwrap();
    let unknown = browser
        .post(
            &login,
            &[
                ("request", &request),
                ("csrf_token", &csrf),
                ("username", "mallory"),
                ("password", "nope nope nope"),
            ],
        )
        .await;
    let unknown_body = unknown.text().await.unwrap();
    assert!(wrong_body.contains("The username or password is incorrect."));
    assert_eq!(
        wrong_body.replace("value=\"alice\"", ""),
        unknown_body.replace("value=\"mallory\"", ""),
        "the same page for a wrong password and an unknown user"
    );
    // The pending request survives failed attempts.
    let res = browser
        .post(
            &login,
            &[
                ("request", &request),
                ("csrf_token", &csrf),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "http issuer: no Secure flag");
    assert!(location(&res).contains("/authorize/continue"));
}

#[tokio::test]
async fn a_third_party_client_asks_for_consent_once() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD).await;
    let secret = app
        .create_client(ClientSpec {
            id: "partner",
            grants: &[GrantType::AuthorizationCode],
            redirect_uris: &[CALLBACK],
            consent: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let browser = Browser::new();
    let (url, verifier) = authorize_url(&app, "partner", CALLBACK, &[]);
    let consent_url = login_through(&browser, &url, "alice", PASSWORD).await;
    assert!(consent_url.contains("/consent?request="), "{consent_url}");
    let html = browser.get(&consent_url).await.text().await.unwrap();
    assert!(
        html.contains("Your email address") && html.contains("<code>profile</code>"),
        "scopes are listed"
    );
    let form = [
        ("request", hidden(&html, "request")),
        ("csrf_token", hidden(&html, "csrf_token")),
    ];
    let deny = browser
        .post(
            &format!("{}/consent", app.address),
            &[
                ("request", &form[0].1),
                ("csrf_token", &form[1].1),
                ("decision", "deny"),
            ],
        )
        .await;
    assert_eq!(
        query_param(&location(&deny), "error").as_deref(),
        Some("access_denied")
    );

    let (url, verifier2) = authorize_url(&app, "partner", CALLBACK, &[]);
    let consent_url = location(&browser.get(&url).await);
    let html = browser.get(&consent_url).await.text().await.unwrap();
    let allow = browser
        .post(
            &format!("{}/consent", app.address),
            &[
                ("request", &hidden(&html, "request")),
                ("csrf_token", &hidden(&html, "csrf_token")),
                ("decision", "allow"),
            ],
        )
        .await;
    let code = query_param(&location(&allow), "code").unwrap();
    assert_eq!(
        exchange(&app, ("partner", &secret), &code, CALLBACK, &verifier2)
            .await
            .status(),
        200
    );
    let _ = verifier;

    // Remembered: the next authorization goes straight back with a code.
    let (url, _) = authorize_url(&app, "partner", CALLBACK, &[]);
    assert!(query_param(&location(&browser.get(&url).await), "code").is_some());
    // prompt=none still works, and prompt=consent asks again.
    let (url, _) = authorize_url(&app, "partner", CALLBACK, &[("prompt", "consent")]);
    assert!(location(&browser.get(&url).await).contains("/consent?request="));
}

#[tokio::test]
async fn userinfo_answers_get_and_both_post_forms_and_refuses_bad_tokens() {
    let (app, _, _) = sso_setup().await;
    let secret = app
        .create_client(ClientSpec {
            id: "pw",
            ..Default::default()
        })
        .await
        .unwrap();
    let tokens = app
        .password_tokens(("pw", &secret), ("alice", PASSWORD), "openid email")
        .await;
    let at = tokens["access_token"].as_str().unwrap();
    let url = format!("{}/userinfo", app.address);

    let get: Value = app
        .http
        .get(&url)
        .bearer_auth(at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(get["email"], "user@example.com");
    assert!(get.get("preferred_username").is_none(), "no profile scope");
    let post: Value = app
        .http
        .post(&url)
        .bearer_auth(at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(post, get);
    let body: Value = app
        .http
        .post(&url)
        .form(&[("access_token", at)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body, get);

    let res = app.http.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers()["www-authenticate"],
        "Bearer realm=\"portcullis\""
    );
    let res = app
        .http
        .get(&url)
        .bearer_auth("not.a.token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("error=\"invalid_token\""));
    let no_openid = app
        .password_tokens(("pw", &secret), ("alice", PASSWORD), "email")
        .await;
    let res = app
        .http
        .get(&url)
        .bearer_auth(no_openid["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("insufficient_scope"));
    let res = app
        .http
        .post(&url)
        .bearer_auth(at)
        .form(&[("access_token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "one token, one place");
    // An ID token is not an access token.
    let res = app
        .http
        .get(&url)
        .bearer_auth(tokens["id_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn the_claims_parameter_adds_claims_beyond_the_scope() {
    let (app, secret, _) = sso_setup().await;
    let claims = r#"{"id_token":{"email":{"essential":true}},"userinfo":{"name":null}}"#;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut url = reqwest::Url::parse(&format!("{}/authorize", app.address)).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "web")
        .append_pair("redirect_uri", CALLBACK)
        .append_pair("scope", "openid")
        .append_pair("claims", claims)
        .append_pair("acr_values", "urn:mace:incommon:iap:silver")
        .append_pair("ui_locales", "fr-CA en")
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256");
    let callback = login_through(&Browser::new(), url.as_str(), "alice", PASSWORD).await;
    let code = query_param(&callback, "code").unwrap();
    let tokens: Value = exchange(&app, ("web", &secret), &code, CALLBACK, verifier.secret())
        .await
        .json()
        .await
        .unwrap();
    let id = unverified_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["email"], "user@example.com");
    assert!(
        id.get("name").is_none(),
        "name was asked of userinfo, not of the ID token"
    );
    let info: Value = app
        .http
        .get(format!("{}/userinfo", app.address))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["name"], "Test User");
}

#[tokio::test]
async fn logout_ends_the_session_and_revokes_its_refresh_tokens() {
    let (app, secret, _) = sso_setup().await;
    let browser = Browser::new();
    let (url, verifier) = authorize_url(&app, "web", CALLBACK, &[]);
    let callback = login_through(&browser, &url, "alice", PASSWORD).await;
    let tokens: Value = exchange(
        &app,
        ("web", &secret),
        &query_param(&callback, "code").unwrap(),
        CALLBACK,
        &verifier,
    )
    .await
    .json()
    .await
    .unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();

    // An unregistered post-logout URI is refused with a page.
    let res = browser
        .get(&format!(
            "{}/logout?id_token_hint={id_token}&post_logout_redirect_uri=https://evil.example.com/",
            app.address
        ))
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());

    let res = browser
        .get(&format!(
            "{}/logout?id_token_hint={id_token}&post_logout_redirect_uri={LOGGED_OUT}&state=bye",
            app.address
        ))
        .await;
    let to = location(&res);
    assert_eq!(to, format!("{LOGGED_OUT}?state=bye"));

    // The session is gone: prompt=none now fails, and the refresh token is revoked.
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[("prompt", "none")]);
    assert_eq!(
        query_param(&location(&browser.get(&url).await), "error").as_deref(),
        Some("login_required")
    );
    let res = app
        .post_token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
            Some(("web", &secret)),
        )
        .await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn logout_without_a_hint_asks_the_user_first() {
    let (app, _, _) = sso_setup().await;
    let browser = Browser::new();
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[]);
    login_through(&browser, &url, "alice", PASSWORD).await;
    let page = browser.get(&format!("{}/logout", app.address)).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Sign out?"));
    // A forged POST without the token does not log the user out.
    let forged = browser
        .post(
            &format!("{}/logout", app.address),
            &[("csrf_token", "forged")],
        )
        .await;
    assert_eq!(forged.status(), 200);
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[("prompt", "none")]);
    assert!(
        query_param(&location(&browser.get(&url).await), "code").is_some(),
        "still logged in"
    );
    let done = browser
        .post(
            &format!("{}/logout", app.address),
            &[("csrf_token", &hidden(&html, "csrf_token"))],
        )
        .await;
    assert!(done.text().await.unwrap().contains("You are signed out"));
    let (url, _) = authorize_url(&app, "web", CALLBACK, &[("prompt", "none")]);
    assert_eq!(
        query_param(&location(&browser.get(&url).await), "error").as_deref(),
        Some("login_required")
    );
}
