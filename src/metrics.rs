//! Prometheus metrics, kept in atomics and rendered in the text format at
//! `GET /metrics`. A new label set takes a write lock once; every later
//! increment takes only a read lock and an atomic add.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Upper bounds of the latency histogram, seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

type Labels = Vec<(&'static str, String)>;

#[derive(Default)]
struct Counter(AtomicU64);

#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

#[derive(Default)]
struct Family<T> {
    series: RwLock<BTreeMap<Labels, Arc<T>>>,
}

impl<T: Default> Family<T> {
    fn get(&self, labels: Labels) -> Arc<T> {
        if let Ok(series) = self.series.read() {
            if let Some(s) = series.get(&labels) {
                return s.clone();
            }
        }
        let mut series = match self.series.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        series.entry(labels).or_default().clone()
    }

    fn snapshot(&self) -> Vec<(Labels, Arc<T>)> {
        match self.series.read() {
            Ok(series) => series.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Err(poisoned) => poisoned
                .into_inner()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

#[derive(Default)]
pub struct Metrics {
    requests: Family<Counter>,
    latency: Family<Histogram>,
    tokens: Family<Counter>,
    login_failures: Family<Counter>,
    refresh_reuse: Counter,
}

impl Metrics {
    pub fn observe_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let labels = vec![
            ("route", route.to_owned()),
            ("method", method.to_owned()),
            ("status", status.to_string()),
        ];
        self.requests.get(labels).0.fetch_add(1, Ordering::Relaxed);
        let h = self.latency.get(vec![("route", route.to_owned())]);
        let seconds = elapsed.as_secs_f64();
        for (bucket, bound) in h.buckets.iter().zip(BUCKETS) {
            if seconds <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        h.count.fetch_add(1, Ordering::Relaxed);
        h.sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn token_issued(&self, grant: &str, alg: &str) {
        self.tokens
            .get(vec![("grant", grant.to_owned()), ("alg", alg.to_owned())])
            .0
            .fetch_add(1, Ordering::Relaxed);
    }

    pub fn login_failed(&self, via: &str) {
        self.login_failures
            .get(vec![("via", via.to_owned())])
            .0
            .fetch_add(1, Ordering::Relaxed);
    }

    pub fn refresh_reuse_detected(&self) {
        self.refresh_reuse.0.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition; `key_ages` are (alg, kid, seconds).
    pub fn render(&self, key_ages: &[(String, String, i64)]) -> String {
        let mut out = String::with_capacity(4096);
        counter_family(
            &mut out,
            "portcullis_http_requests_total",
            "HTTP requests by route, method and status.",
            &self.requests,
        );
        let _ = writeln!(
            out,
            "# HELP portcullis_http_request_duration_seconds HTTP request latency by route."
        );
        let _ = writeln!(
            out,
            "# TYPE portcullis_http_request_duration_seconds histogram"
        );
        for (labels, h) in self.latency.snapshot() {
            let base = label_text(&labels);
            for (bucket, bound) in h.buckets.iter().zip(BUCKETS) {
                let _ = writeln!(
                    out,
                    "portcullis_http_request_duration_seconds_bucket{{{base},le=\"{bound}\"}} {}",
                    bucket.load(Ordering::Relaxed)
                );
            }
            let count = h.count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "portcullis_http_request_duration_seconds_bucket{{{base},le=\"+Inf\"}} {count}"
            );
            let sum = h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(
                out,
                "portcullis_http_request_duration_seconds_sum{{{base}}} {sum}"
            );
            let _ = writeln!(
                out,
                "portcullis_http_request_duration_seconds_count{{{base}}} {count}"
            );
        }
        counter_family(
            &mut out,
            "portcullis_tokens_issued_total",
            "Access tokens issued by grant type and signing algorithm.",
            &self.tokens,
        );
        counter_family(
            &mut out,
            "portcullis_login_failures_total",
            "Failed password logins (login page and password grant).",
            &self.login_failures,
        );
        let _ = writeln!(out, "# HELP portcullis_refresh_token_reuse_detected_total Spent refresh tokens presented again (family revoked).");
        let _ = writeln!(
            out,
            "# TYPE portcullis_refresh_token_reuse_detected_total counter"
        );
        let _ = writeln!(
            out,
            "portcullis_refresh_token_reuse_detected_total {}",
            self.refresh_reuse.0.load(Ordering::Relaxed)
        );
        let _ = writeln!(out, "# HELP portcullis_signing_key_age_seconds Age of each active signing key since it started signing.");
        let _ = writeln!(out, "# TYPE portcullis_signing_key_age_seconds gauge");
        for (alg, kid, age) in key_ages {
            let labels = label_text(&vec![("alg", alg.clone()), ("kid", kid.clone())]);
            let _ = writeln!(out, "portcullis_signing_key_age_seconds{{{labels}}} {age}");
        }
        out
    }
}

fn counter_family(out: &mut String, name: &str, help: &str, family: &Family<Counter>) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} counter");
    for (labels, c) in family.snapshot() {
        let _ = writeln!(
            out,
            "{name}{{{}}} {}",
            label_text(&labels),
            c.0.load(Ordering::Relaxed)
        );
    }
}

fn label_text(labels: &Labels) -> String {
    labels
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}=\"{}\"",
                v.replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n")
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_gauges() {
        let m = Metrics::default();
        m.observe_request("/token", "POST", 200, Duration::from_millis(3));
        m.observe_request("/token", "POST", 200, Duration::from_millis(30));
        m.token_issued("password", "ES256");
        m.login_failed("client:app");
        m.refresh_reuse_detected();
        let text = m.render(&[("ES256".into(), "k1".into(), 42)]);
        assert!(text.contains(
            "portcullis_http_requests_total{route=\"/token\",method=\"POST\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "portcullis_http_request_duration_seconds_bucket{route=\"/token\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "portcullis_http_request_duration_seconds_bucket{route=\"/token\",le=\"+Inf\"} 2"
        ));
        assert!(text.contains("portcullis_tokens_issued_total{grant=\"password\",alg=\"ES256\"} 1"));
        assert!(text.contains("portcullis_refresh_token_reuse_detected_total 1"));
        assert!(text.contains("portcullis_signing_key_age_seconds{alg=\"ES256\",kid=\"k1\"} 42"));
    }
}
