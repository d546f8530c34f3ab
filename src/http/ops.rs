//! Operations endpoints: liveness, readiness, Prometheus metrics.

use actix_web::{get, web, HttpResponse};
use serde_json::json;

use crate::store::StoreError;
use crate::Services;

/// GET /healthz — the process is up and answering.
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(json!({"status": "ok"}))
}

/// GET /readyz — the database answers and signing keys are loaded.
#[get("/readyz")]
pub async fn readyz(services: web::Data<Services>) -> HttpResponse {
    let database = services
        .db
        .run(|conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query("SELECT 1")
                .execute(conn)
                .map_err(StoreError::from)
        })
        .await
        .is_ok();
    let keys = services.keys.ready();
    let body = json!({"status": if database && keys { "ready" } else { "unavailable" }, "database": database, "keys": keys});
    let mut res = if database && keys {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    res.insert_header(("cache-control", "no-store")).json(body)
}

/// GET /metrics — Prometheus text format.
#[get("/metrics")]
pub async fn metrics(services: web::Data<Services>) -> HttpResponse {
    let ages = services.keys.active_key_ages(crate::store::now());
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .body(services.metrics.render(&ages))
}
