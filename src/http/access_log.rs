//! The access log: a request id, one line per request, and the request
//! metrics.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;

use super::State;

/// An id for a request that came without one: unique, not secret, so it
/// costs no system call (a `getrandom` per request was 1–2 % of the server's
/// CPU on the JWKS). A random start per process, so that replicas differ,
/// plus a counter, through splitmix64's mixer: a bijection, so no two
/// requests of one process get the same id.
fn new_request_id() -> String {
    use rand_core::RngCore;
    use std::sync::atomic::{AtomicU64, Ordering};
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let start = *START.get_or_init(|| rand_core::OsRng.next_u64());
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    let mut z = start.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    format!("{:016x}", z ^ (z >> 31))
}

/// Gives every request an id (the caller's `X-Request-Id` when it is sane,
/// else a new one), logs method, route, status and latency inside a span
/// carrying that id — never the query string, which may hold codes or
/// tokens — and counts the request in the metrics.
pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    use tracing::Instrument;
    let started = std::time::Instant::now();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(new_request_id);
    let method = req.method().clone();
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let state = req.app_data::<web::Data<State>>().cloned();
    let span = tracing::info_span!("request", request_id = %request_id);
    let mut res = next.call(req).instrument(span.clone()).await?;
    let status = res.status().as_u16();
    let elapsed = started.elapsed();
    if let Some(state) = state {
        state
            .ctx
            .metrics
            .observe_request(&route, method.as_str(), status, elapsed);
    }
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("x-request-id"),
            value,
        );
    }
    span.in_scope(|| {
        tracing::info!(%method, route = %route, status, micros = elapsed.as_micros() as u64, "request");
    });
    Ok(res)
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_ids_are_distinct_hex_of_one_length() {
        let ids: Vec<String> = (0..100_000).map(|_| super::new_request_id()).collect();
        assert!(ids
            .iter()
            .all(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())));
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        // Consecutive ids do not look consecutive: they share no long prefix.
        let alike = ids.windows(2).filter(|w| w[0][..8] == w[1][..8]).count();
        assert!(alike < 10, "{alike} neighbours share 8 hex digits");
    }
}
