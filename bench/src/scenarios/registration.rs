//! The dynamic-registration scenario (RFC 7591 §3): an application
//! registers itself at `POST /register`, which the benchmark's server
//! leaves open and unlimited (`server.rs`). Every request stores a new
//! confidential client, so the clients table grows by every answer.

use hyper::Method;

use crate::http::{expect, json, Conn, Reply};

/// The metadata every request registers, a code-flow web application.
pub const METADATA: &str = r#"{"redirect_uris":["https://app.example/cb"],"client_name":"bench","token_endpoint_auth_method":"client_secret_basic","grant_types":["authorization_code","refresh_token"],"response_types":["code"]}"#;

/// One registration: 201 with the new client's credentials.
pub async fn register(conn: &mut Conn) -> Result<(), String> {
    let r = conn
        .send(
            Method::POST,
            "/register",
            &[("content-type", "application/json")],
            Some(METADATA.to_owned()),
        )
        .await?;
    registered(&r)
}

/// RFC 7591 §3.2.1: a client id, a secret (it authenticates with
/// client_secret_basic) and, RFC 7592 §3, its registration access token.
pub fn registered(r: &Reply) -> Result<(), String> {
    expect(r, 201)?;
    let answer = json(r)?;
    for field in ["client_id", "client_secret", "registration_access_token"] {
        if answer[field].as_str().is_none_or(str::is_empty) {
            return Err(format!("no {field}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use hyper::StatusCode;
    use serde_json::Value;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: hyper::HeaderMap::new(),
            body: Bytes::from(body.to_owned()),
        }
    }

    #[test]
    fn the_metadata_is_a_confidential_code_flow_client() {
        let m: Value = serde_json::from_str(METADATA).unwrap();
        assert_eq!(m["redirect_uris"][0], "https://app.example/cb");
        assert_eq!(m["token_endpoint_auth_method"], "client_secret_basic");
        assert_eq!(
            m["grant_types"],
            serde_json::json!(["authorization_code", "refresh_token"])
        );
        assert_eq!(m["response_types"], serde_json::json!(["code"]));
    }

    #[test]
    fn a_registration_is_a_201_with_credentials() {
        let ok = r#"{"client_id":"0d21","client_secret":"Fbf","registration_access_token":"tGy"}"#;
        assert!(registered(&reply(201, ok)).is_ok());
        assert!(registered(&reply(200, ok)).is_err());
        for body in [
            r#"{"client_id":"0d21","registration_access_token":"tGy"}"#,
            r#"{"client_id":"","client_secret":"Fbf","registration_access_token":"tGy"}"#,
            r#"{"client_id":"0d21","client_secret":"Fbf"}"#,
            "not json",
        ] {
            assert!(registered(&reply(201, body)).is_err(), "{body}");
        }
        let limited = r#"{"error":"temporarily_unavailable"}"#;
        assert!(registered(&reply(429, limited)).is_err());
    }
}
