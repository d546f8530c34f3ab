//! The token endpoint's answer as a type (RFC 6749 §5.1), for tests that
//! use the tokens rather than look at the JSON.

use serde::Deserialize;

use super::TestApp;

/// A successful token response.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub refresh_token: Option<String>,
    pub scope: String,
    pub id_token: Option<String>,
}

impl TokenResponse {
    /// Reads a token response from the server's answer; panics, showing
    /// the body, if it is not one.
    pub async fn read(res: reqwest::Response) -> TokenResponse {
        let body = res.text().await.expect("a token response body");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("not a token response ({e}): {body}"))
    }

    /// The refresh token, which this response must have.
    pub fn refresh(&self) -> &str {
        self.refresh_token.as_deref().expect("a refresh token")
    }

    /// The ID token, which this response must have.
    pub fn id(&self) -> &str {
        self.id_token.as_deref().expect("an ID token")
    }
}

impl TestApp {
    /// A password grant for `user` that must succeed, as a typed response.
    pub async fn password_token_pair(
        &self,
        client: (&str, &str),
        user: (&str, &str),
        scope: &str,
    ) -> TokenResponse {
        let res = self.password_grant(client, user, scope).await;
        assert_eq!(res.status(), 200, "password grant failed");
        TokenResponse::read(res).await
    }
}
