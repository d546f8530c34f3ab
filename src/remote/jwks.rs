//! Clients' JWK Sets fetched from their `jwks_uri` (RFC 7591 §2), cached
//! per URI for as long as the publisher's `Cache-Control: max-age` says,
//! within bounds:
//!
//! - at least [`MIN_TTL`] (also for `no-store`/`no-cache`: every assertion
//!   would otherwise cost a fetch), at most [`MAX_TTL`], [`DEFAULT_TTL`]
//!   when the answer names no max-age;
//! - a set without the key an assertion needs (a client that rotated to a
//!   new `kid`) is fetched again at once, but at most once every
//!   [`REFETCH_INTERVAL`] per URI: within it the cached set answers, so a
//!   flood of unknown `kid`s costs the publisher one fetch per interval;
//! - a failed fetch is not retried within [`REFETCH_INTERVAL`] either;
//! - concurrent requests for one URI wait for one fetch.
//!
//! Each fetch is bounded by [`LIMITS`] and obeys the outbound [`Policy`]
//! (no private addresses unless allowed).
//!
//! [`Policy`]: super::Policy

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet};
use serde_json::Value;

use super::{FetchError, Limits, Outbound};

pub const MIN_TTL: i64 = 60;
pub const MAX_TTL: i64 = 86_400;
pub const DEFAULT_TTL: i64 = 300;
pub const REFETCH_INTERVAL: i64 = 10;

/// A JWK Set is a few keys: 64 KiB is room for dozens of RSA keys.
pub const LIMITS: Limits = Limits {
    max_bytes: 64 * 1024,
    timeout: Duration::from_secs(3),
};

/// URIs remembered at once; past this, sets no longer fresh are forgotten
/// (and if all are fresh, all that are not being fetched), so registering
/// many clients cannot grow the cache without bound.
const MAX_ENTRIES: usize = 4096;

/// JWK members that only a private or symmetric key has (RFC 7518 §6.2.2,
/// §6.3.2, §6.4.1; RFC 8037 §2): a published set must have none.
pub const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Fetched client key sets, by URI.
pub struct JwksCache {
    outbound: Arc<Outbound>,
    /// The keys worth keeping from a fetched set (the caller's rules),
    /// applied once per fetch rather than on every use.
    usable: fn(&Jwk) -> bool,
    entries: Mutex<HashMap<String, Arc<Entry>>>,
}

/// One URI's set. The async lock is held across a fetch: whoever comes
/// while one is under way waits for its result instead of fetching too.
#[derive(Default)]
struct Entry {
    state: tokio::sync::Mutex<State>,
}

#[derive(Default)]
struct State {
    set: Option<Arc<JwkSet>>,
    /// Unix seconds until which `set` may be used.
    fresh_until: i64,
    /// When a fetch was last tried, and whether it failed.
    tried_at: Option<i64>,
    failed: bool,
}

impl State {
    fn fresh(&self, now: i64) -> bool {
        self.set.is_some() && now < self.fresh_until
    }

    fn tried_recently(&self, now: i64) -> bool {
        self.tried_at
            .is_some_and(|at| now >= at && now - at < REFETCH_INTERVAL)
    }
}

impl JwksCache {
    pub fn new(outbound: Arc<Outbound>, usable: fn(&Jwk) -> bool) -> Self {
        JwksCache {
            outbound,
            usable,
            entries: Mutex::default(),
        }
    }

    /// The set published at `uri`, from the cache while it is fresh and
    /// `suffices` for what the caller needs (the key an assertion names);
    /// else fetched again, at most once every [`REFETCH_INTERVAL`].
    pub async fn get(
        &self,
        uri: &str,
        now: i64,
        suffices: impl Fn(&JwkSet) -> bool,
    ) -> Result<Arc<JwkSet>, FetchError> {
        let entry = self.entry(uri, now);
        let mut state = entry.state.lock().await;
        if let Some(set) = state.set.clone().filter(|_| state.fresh(now)) {
            if suffices(&set) || state.tried_recently(now) {
                return Ok(set);
            }
        } else if state.failed && state.tried_recently(now) {
            return Err(FetchError::RecentlyFailed(REFETCH_INTERVAL));
        }
        state.tried_at = Some(now);
        match self.fetch(uri).await {
            Ok((set, ttl)) => {
                let set = Arc::new(set);
                state.set = Some(set.clone());
                state.fresh_until = now + ttl;
                state.failed = false;
                Ok(set)
            }
            Err(e) => {
                state.failed = true;
                // A refetch for a missing key failed: the set still fresh
                // stands (the caller will not find the key in it).
                match state.set.clone().filter(|_| state.fresh(now)) {
                    Some(set) => {
                        tracing::warn!(jwks_uri = %uri, error = %e, "refetching a client's JWK Set failed; the cached set stands");
                        Ok(set)
                    }
                    None => Err(e),
                }
            }
        }
    }

    async fn fetch(&self, uri: &str) -> Result<(JwkSet, i64), FetchError> {
        let fetched = self
            .outbound
            .get(uri, "application/jwk-set+json, application/json", LIMITS)
            .await?;
        let mut set = parse_published(&fetched.body)?;
        set.keys.retain(|k| (self.usable)(k));
        let ttl = ttl(fetched.header("cache-control"));
        tracing::debug!(jwks_uri = %uri, keys = set.keys.len(), ttl, "fetched a client's JWK Set");
        Ok((set, ttl))
    }

    fn entry(&self, uri: &str, now: i64) -> Arc<Entry> {
        // Poisoned only if a thread panicked while holding it: the map
        // itself is still whole.
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(entry) = entries.get(uri) {
            return entry.clone();
        }
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| e.state.try_lock().is_ok_and(|s| s.fresh(now)));
            if entries.len() >= MAX_ENTRIES {
                entries.retain(|_, e| e.state.try_lock().is_err());
            }
        }
        entries.entry(uri.to_owned()).or_default().clone()
    }
}

/// How long a fetched set may be used, from its `Cache-Control`.
pub fn ttl(cache_control: Option<&str>) -> i64 {
    let Some(value) = cache_control else {
        return DEFAULT_TTL;
    };
    let mut max_age = None;
    for directive in value.split(',') {
        let directive = directive.trim().to_ascii_lowercase();
        if directive == "no-store" || directive == "no-cache" {
            return MIN_TTL;
        }
        if let Some(seconds) = directive.strip_prefix("max-age=") {
            max_age = seconds.trim_matches('"').parse::<i64>().ok();
        }
    }
    max_age.map_or(DEFAULT_TTL, |s| s.clamp(MIN_TTL, MAX_TTL))
}

/// Reads a published JWK Set leniently, key by key: a key this server
/// cannot read (another `kty`, an encryption key) is skipped rather than
/// failing the set, and so is one with private or symmetric material
/// (whoever published it has leaked it; it proves nothing).
pub fn parse_published(body: &[u8]) -> Result<JwkSet, FetchError> {
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| FetchError::Malformed(format!("not JSON: {e}")))?;
    let Some(keys) = doc.get("keys").and_then(Value::as_array) else {
        return Err(FetchError::Malformed(
            "not a JWK Set: no `keys` array".into(),
        ));
    };
    let keys = keys
        .iter()
        .filter(|key| {
            key.as_object()
                .is_some_and(|k| !PRIVATE_MEMBERS.iter().any(|m| k.contains_key(*m)))
        })
        .filter_map(|key| serde_json::from_value::<Jwk>(key.clone()).ok())
        .filter(|jwk| !matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)))
        .collect();
    Ok(JwkSet { keys })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ttl_follows_max_age_within_bounds() {
        assert_eq!(ttl(None), DEFAULT_TTL);
        assert_eq!(ttl(Some("public")), DEFAULT_TTL);
        assert_eq!(ttl(Some("public, max-age=900")), 900);
        assert_eq!(ttl(Some("Max-Age=5")), MIN_TTL);
        assert_eq!(ttl(Some("max-age=31536000, immutable")), MAX_TTL);
        assert_eq!(ttl(Some("max-age=600, no-store")), MIN_TTL);
        assert_eq!(ttl(Some("no-cache")), MIN_TTL);
        assert_eq!(ttl(Some("max-age=soon")), DEFAULT_TTL);
    }

    #[test]
    fn a_published_set_keeps_only_public_keys_it_can_read() {
        let body = serde_json::json!({"keys": [
            {"kty": "EC", "crv": "P-256", "kid": "ok",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRjQ1Tm5kFCeDQRKO2EqQ2tKSu7tqG6j2P0TWTY"},
            {"kty": "EC", "crv": "P-256", "kid": "leaked", "d": "secret",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRjQ1Tm5kFCeDQRKO2EqQ2tKSu7tqG6j2P0TWTY"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "unknown", "kid": "other"},
            "not a key",
        ]})
        .to_string();
        let set = parse_published(body.as_bytes()).unwrap();
        let kids: Vec<_> = set
            .keys
            .iter()
            .map(|k| k.common.key_id.as_deref().unwrap())
            .collect();
        assert_eq!(kids, ["ok"]);
        assert!(parse_published(b"{\"keys\": {}}").is_err());
        assert!(parse_published(b"<html>").is_err());
    }
}
