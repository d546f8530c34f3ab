//! Where /authorize answers: an untrusted redirect URI gets a page, never a
//! redirect; every other error goes back to the client.

use crate::helpers::browser::{authorize_url, location, query_param, sso_setup, Browser, CALLBACK};

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
    // A request_uri this server did not make (RFC 9126 §4): nothing in the
    // request can be trusted, so a page, not a redirect.
    let (url, _) = authorize_url(
        &app,
        "web",
        CALLBACK,
        &[("request_uri", "https://example.com/r")],
    );
    let res = browser.get(&url).await;
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
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
