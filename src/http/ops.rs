//! Operations endpoints: liveness, readiness, Prometheus metrics.

use actix_web::{get, web, HttpResponse};
use serde_json::json;

use super::State;

/// GET /healthz — the process is up and answering.
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(json!({"status": "ok"}))
}

/// GET /readyz — the database answers and signing keys are loaded.
#[get("/readyz")]
pub async fn readyz(state: web::Data<State>) -> HttpResponse {
    let database = state.ctx.db.ping().await;
    let keys = state.ctx.keys.ready();
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
pub async fn metrics(state: web::Data<State>) -> HttpResponse {
    let ages = state.ctx.keys.active_key_ages(state.ctx.now());
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .body(state.ctx.metrics.render(&ages))
}
