//! The device-code polling scenario (RFC 8628 §3.4–3.5): devices whose
//! person has not decided yet poll the token endpoint. The device codes are
//! made before the clock starts and polled in turn by all the users
//! together; every poll records its time (and, polling too fast, a longer
//! interval) in the database, so each answer costs one small write.

use std::time::Duration;

use hyper::Method;

use super::prepare::lives_through;
use crate::fixture::Fixture;
use crate::http::{enc, expect, form, json, Conn, Reply};

/// The public client the devices are (`--public --grant-types device_code`).
pub const DEVICE_CLIENT: &str = "tv";

/// How many device codes the polls go round, so each is polled about every
/// N / throughput seconds and two polls of one code are hardly ever in
/// flight together (that would be `slow_down` too). Making them takes
/// about 75 µs each (0.35–0.6 s for 5,000 on two busy cores); 2,000 and
/// 5,000 measured the same polls a second.
pub const DEVICE_CODES: usize = 5_000;

const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Connections the device codes are asked for on, at once.
const SETUP_CONNECTIONS: usize = 8;

/// Asks for `n` device authorizations, checks that they outlive the
/// window, and returns the poll body of each.
pub async fn prepare(f: &Fixture, n: usize, window: Duration) -> Result<Vec<String>, String> {
    let mut tasks = Vec::new();
    for t in 0..SETUP_CONNECTIONS {
        let port = f.port;
        let share = n / SETUP_CONNECTIONS + usize::from(t < n % SETUP_CONNECTIONS);
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(port).await?;
            let mut bodies = Vec::with_capacity(share);
            for _ in 0..share {
                let r = conn
                    .send(
                        Method::POST,
                        "/device_authorization",
                        &[],
                        Some(form(&[("client_id", DEVICE_CLIENT)])),
                    )
                    .await?;
                expect(&r, 200)?;
                let answer = json(&r)?;
                lives_through(
                    "a device code",
                    answer["expires_in"].as_i64(),
                    window,
                    "PORTCULLIS_DEVICE_CODE_TTL",
                )?;
                let code = answer["device_code"]
                    .as_str()
                    .ok_or("/device_authorization gave no device_code")?;
                bodies.push(poll_body(code));
            }
            Ok::<_, String>(bodies)
        }));
    }
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await.map_err(|e| e.to_string())??);
    }
    Ok(all)
}

/// RFC 8628 §3.4: the device's poll, as a public client.
pub fn poll_body(device_code: &str) -> String {
    format!(
        "grant_type={}&device_code={}&client_id={}",
        enc(GRANT),
        enc(device_code),
        enc(DEVICE_CLIENT)
    )
}

/// One poll: its answer, `authorization_pending` or `slow_down`.
pub async fn poll(conn: &mut Conn, body: &str) -> Result<&'static str, String> {
    let r = conn
        .send(Method::POST, "/token", &[], Some(body.to_owned()))
        .await?;
    answer(&r)
}

/// A 400 with `authorization_pending` or `slow_down` (RFC 8628 §3.5:
/// polling too fast, the same "not yet" with a longer interval); anything
/// else is an error.
pub fn answer(r: &Reply) -> Result<&'static str, String> {
    expect(r, 400)?;
    match json(r)?["error"].as_str() {
        Some("authorization_pending") => Ok("authorization_pending"),
        Some("slow_down") => Ok("slow_down"),
        Some(other) => Err(format!("error {other}")),
        None => Err("400 without an error code".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use hyper::StatusCode;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: hyper::HeaderMap::new(),
            body: Bytes::from(body.to_owned()),
        }
    }

    #[test]
    fn pending_and_slow_down_are_answers_everything_else_an_error() {
        let pending = reply(400, r#"{"error":"authorization_pending"}"#);
        assert_eq!(answer(&pending), Ok("authorization_pending"));
        let slow = reply(
            400,
            r#"{"error":"slow_down","error_description":"polling too fast"}"#,
        );
        assert_eq!(answer(&slow), Ok("slow_down"));
        for (status, body) in [
            (400, r#"{"error":"expired_token"}"#),
            (400, r#"{"error":"invalid_grant"}"#),
            (400, r#"{"error_description":"no code"}"#),
            (400, "not json"),
            (200, r#"{"access_token":"t"}"#),
            (401, r#"{"error":"invalid_client"}"#),
            (503, r#"{"error":"temporarily_unavailable"}"#),
        ] {
            assert!(answer(&reply(status, body)).is_err(), "{status} {body}");
        }
    }

    #[test]
    fn the_poll_names_the_grant_the_code_and_the_client() {
        assert_eq!(
            poll_body("a-b_c~d"),
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=a-b_c~d&client_id=tv"
        );
    }
}
