//! The operations endpoints: liveness, readiness, request ids and the
//! Prometheus metrics.

use serde_json::Value;

use crate::helpers::{resource_setup, ResourceSetup, PASSWORD};

#[tokio::test]
async fn health_readiness_and_metrics() {
    let ResourceSetup { app, web, .. } = resource_setup().await;
    let get = |path: &str| app.http.get(format!("{}{path}", app.address)).send();
    let res = get("/healthz").await.unwrap();
    assert_eq!(res.status(), 200);
    let res = get("/readyz").await.unwrap();
    assert_eq!(res.status(), 200);
    let ready: Value = res.json().await.unwrap();
    assert_eq!(
        (ready["database"].as_bool(), ready["keys"].as_bool()),
        (Some(true), Some(true))
    );
    app.password_tokens(("web", &web), ("alice", PASSWORD), "openid")
        .await;
    let res = get("/token").await.unwrap();
    assert!(res.headers().contains_key("x-request-id"));
    let res = app
        .http
        .get(format!("{}/healthz", app.address))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["x-request-id"],
        "trace-me-42",
        "a caller's request id is kept"
    );

    let text = get("/metrics").await.unwrap().text().await.unwrap();
    assert!(
        text.contains("portcullis_tokens_issued_total{grant=\"password\",alg=\"RS256\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "portcullis_http_requests_total{route=\"/token\",method=\"POST\",status=\"200\"} 1"
        ),
        "{text}"
    );
    assert!(text
        .contains("portcullis_http_request_duration_seconds_bucket{route=\"/token\",le=\"+Inf\"}"));
    assert!(text.contains("portcullis_signing_key_age_seconds{alg=\"ES256\""));
    assert!(text.contains("portcullis_refresh_token_reuse_detected_total 0"));
}
