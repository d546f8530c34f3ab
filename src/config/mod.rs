//! Typed settings, read once at start and passed down.
//!
//! Layers, each overriding the one before: built-in defaults, a TOML file
//! (`--config FILE`), environment variables, command-line flags.
//!
//! Environment variables read here:
//! - `PORTCULLIS_DATABASE_URL`      — `sqlite://PATH` (default `sqlite://data/portcullis.db`) or `postgres://…`
//! - `PORTCULLIS_BIND`              — listen address, `IP:PORT` (default `127.0.0.1:8080`)
//! - `PORTCULLIS_ISSUER`            — public base URL, the `iss` of every token (default `http://127.0.0.1:8080`)
//! - `PORTCULLIS_KEK_FILE`          — key-encryption key file (default `keys/kek`, created 0600 if absent)
//! - `PORTCULLIS_ACCESS_TOKEN_TTL`  — access and ID token lifetime, seconds (default 300)
//! - `PORTCULLIS_REFRESH_TOKEN_TTL` — refresh token lifetime from login, seconds (default 86400)
//! - `PORTCULLIS_JWKS_MAX_AGE`      — `Cache-Control: max-age` of the JWKS, seconds (default 300)
//! - `PORTCULLIS_KEY_REFRESH_INTERVAL` — how often the signer cache re-reads the keys, seconds (default 10)
//! - `PORTCULLIS_DB_POOL_SIZE`      — database connections (default 8)
//! - `PORTCULLIS_SESSION_TTL`       — SSO session lifetime from login, seconds (default 86400)
//! - `PORTCULLIS_CODE_TTL`          — authorization code lifetime, seconds (default 60)
//! - `PORTCULLIS_DEVICE_CODE_TTL`   — device and user code lifetime, seconds (default 600)
//! - `PORTCULLIS_DEVICE_POLL_INTERVAL` — seconds between a device's polls (default 5)
//! - `PORTCULLIS_KEY_ROTATION_PERIOD` — how long a key signs before the scheduler replaces it, seconds (default 2592000 = 30 days; 0 = never)
//! - `PORTCULLIS_LOGIN_MAX_FAILURES` — failed logins per username within the window before 429 (default 10; 0 = no limit)
//! - `PORTCULLIS_LOGIN_MAX_FAILURES_PER_ADDRESS` — the same per client address (default 100; 0 = no limit)
//! - `PORTCULLIS_LOGIN_SLOW_AFTER`   — failures after which answers are delayed (default 3; 0 = never)
//! - `PORTCULLIS_LOGIN_WINDOW`       — the counting window, seconds (default 900)
//! - `PORTCULLIS_MFA_REQUIRED`       — every browser login needs a second factor (default false)
//! - `PORTCULLIS_TOKEN_RATE_LIMIT`   — requests per second per client at /token, per replica (default 0 = no limit)
//! - `PORTCULLIS_DPOP_NONCE`         — DPoP proofs must carry a server nonce (default false)
//! - `PORTCULLIS_REQUIRE_PUSHED_AUTHORIZATION_REQUESTS` — every client must use PAR (default false)
//! - `PORTCULLIS_REFRESH_REUSE_GRACE` — seconds in which replaying the refresh token just spent gets a fresh pair instead of a family revocation (default 0 = off)
//! - `PORTCULLIS_REGISTRATION`       — dynamic client registration (RFC 7591): `off` (default), `token` (an initial access token is required) or `open`
//! - `PORTCULLIS_REGISTRATION_RATE_LIMIT` — registrations per minute per client address, per replica (default 20; 0 = no limit)
//! - `PORTCULLIS_REGISTRATION_SCOPE` — the most a dynamically registered client may ask for (default `openid profile email`)
//! - `PORTCULLIS_OUTBOUND_ALLOW_PRIVATE_ADDRESSES` — let outbound fetches (a client's `jwks_uri`) reach private, loopback and other non-global addresses, and use plain http (default false)
//!
//! `spec.rs` holds the table of settings (key, variable, default) and the
//! layering; `parse.rs` the value parsers. [`Settings`] groups them by
//! concern, one section struct each, so a feature's settings arrive as one
//! more section.

mod parse;
mod spec;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::oauth::registration::Mode as RegistrationMode;
use crate::oauth::Scope;
use parse::{boolean, invalid, number, parse_issuer};
pub use spec::Overrides;
use spec::Raw;

use crate::store::DatabaseUrl;

/// Seconds added to the key lifecycle's timings for the time a reload itself
/// takes: a replica starts serving what the database holds a little after
/// each `key_refresh_interval`, not on it.
const RELOAD_SLACK: i64 = 1;

#[derive(Debug, Clone)]
pub struct Settings {
    pub server: Server,
    pub database: Database,
    pub tokens: Tokens,
    pub sessions: Sessions,
    pub login: Login,
    pub keys: Keys,
    pub registration: Registration,
    pub outbound: crate::remote::Policy,
}

/// Where the server listens and what it calls itself.
#[derive(Debug, Clone)]
pub struct Server {
    pub bind: SocketAddr,
    /// The public base URL, the `iss` of every token.
    pub issuer: String,
}

#[derive(Debug, Clone)]
pub struct Database {
    pub url: DatabaseUrl,
    pub pool_size: u32,
}

/// Lifetimes and limits of what the token and authorization endpoints issue.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token_ttl: i64,
    pub refresh_token_ttl: i64,
    pub refresh_reuse_grace: i64,
    pub code_ttl: i64,
    /// RFC 8628: how long a device code lives and how often it may be polled.
    pub device_code_ttl: i64,
    pub device_poll_interval: i64,
    /// Requests per second per client at /token, per replica (0: no limit).
    pub rate_limit: i64,
    /// DPoP proofs must carry a server nonce (RFC 9449 §8).
    pub dpop_nonce: bool,
    /// Every client must push its authorization requests (RFC 9126 §5).
    pub require_par: bool,
}

#[derive(Debug, Clone)]
pub struct Sessions {
    pub ttl: i64,
}

/// The brute-force policy's numbers.
#[derive(Debug, Clone)]
pub struct Login {
    pub max_failures: i64,
    pub max_failures_per_address: i64,
    pub slow_after: i64,
    pub window: i64,
    /// Every browser login needs a second factor.
    pub mfa_required: bool,
}

/// Signing keys: where the KEK lives, how often replicas reload, how long
/// a key signs and how long relying parties cache the JWKS.
#[derive(Debug, Clone)]
pub struct Keys {
    pub kek_file: PathBuf,
    pub jwks_max_age: i64,
    pub refresh_interval: i64,
    pub rotation_period: i64,
}

/// Dynamic client registration (RFC 7591, RFC 7592).
#[derive(Debug, Clone)]
pub struct Registration {
    pub mode: RegistrationMode,
    /// Registrations per minute per client address, per replica (0: no limit).
    pub rate_limit: i64,
    /// The most a dynamically registered client may ask for, and what it
    /// gets when it names no scope.
    pub scope: Scope,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid setting {name}: {reason}")]
    Invalid { name: String, reason: String },
    #[error("cannot read config file {path}: {reason}")]
    File { path: String, reason: String },
}

impl Settings {
    /// Defaults → file → environment → flags, then validation.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
        flags: &Overrides,
    ) -> Result<Self, ConfigError> {
        let raw = spec::layered(file, env, flags)?;
        // Every key has a default, so the map always holds it.
        let get = |key: &str| -> &Raw { &raw[key] };
        Ok(Settings {
            server: Server {
                bind: {
                    let r = get("bind");
                    r.value
                        .trim()
                        .parse::<SocketAddr>()
                        .map_err(|_| invalid(r, format!("expected IP:PORT, got `{}`", r.value)))?
                },
                issuer: parse_issuer(get("issuer"))?,
            },
            database: Database {
                url: {
                    let r = get("database_url");
                    DatabaseUrl::parse(r.value.trim()).map_err(|reason| invalid(r, reason))?
                },
                pool_size: number(get("db_pool_size"), 1, 256)? as u32,
            },
            tokens: Tokens {
                access_token_ttl: number(get("access_token_ttl"), 1, 86_400)?,
                refresh_token_ttl: number(get("refresh_token_ttl"), 1, 365 * 86_400)?,
                refresh_reuse_grace: number(get("refresh_reuse_grace"), 0, 300)?,
                code_ttl: number(get("code_ttl"), 1, 600)?,
                device_code_ttl: number(get("device_code_ttl"), 60, 3_600)?,
                device_poll_interval: number(get("device_poll_interval"), 1, 60)?,
                rate_limit: number(get("token_rate_limit"), 0, 1_000_000)?,
                dpop_nonce: boolean(get("dpop_nonce"))?,
                require_par: boolean(get("require_pushed_authorization_requests"))?,
            },
            sessions: Sessions {
                ttl: number(get("session_ttl"), 60, 365 * 86_400)?,
            },
            login: Login {
                max_failures: number(get("login_max_failures"), 0, 1_000_000)?,
                max_failures_per_address: number(
                    get("login_max_failures_per_address"),
                    0,
                    1_000_000,
                )?,
                slow_after: number(get("login_slow_after"), 0, 1_000_000)?,
                window: number(get("login_window"), 1, 86_400)?,
                mfa_required: boolean(get("mfa_required"))?,
            },
            keys: Keys {
                kek_file: {
                    let r = get("kek_file");
                    if r.value.trim().is_empty() {
                        return Err(invalid(r, "must not be empty".into()));
                    }
                    PathBuf::from(r.value.trim())
                },
                jwks_max_age: number(get("jwks_max_age"), 0, 86_400)?,
                refresh_interval: number(get("key_refresh_interval"), 1, 3_600)?,
                rotation_period: number(get("key_rotation_period"), 0, 10 * 365 * 86_400)?,
            },
            registration: Registration {
                mode: {
                    let r = get("registration");
                    r.value
                        .trim()
                        .parse::<RegistrationMode>()
                        .map_err(|reason| invalid(r, reason))?
                },
                rate_limit: number(get("registration_rate_limit"), 0, 1_000_000)?,
                scope: {
                    let r = get("registration_scope");
                    let scope = Scope::parse(r.value.trim())
                        .map_err(|_| invalid(r, format!("malformed scope `{}`", r.value)))?;
                    if scope.is_empty() {
                        return Err(invalid(r, "must name at least one scope".into()));
                    }
                    scope
                },
            },
            outbound: crate::remote::Policy {
                allow_private_addresses: boolean(get("outbound_allow_private_addresses"))?,
            },
        })
    }

    /// The brute-force policy for password logins.
    pub fn login_policy(&self) -> crate::accounts::throttle::Policy {
        crate::accounts::throttle::Policy {
            max_per_user: self.login.max_failures,
            max_per_address: self.login.max_failures_per_address,
            slow_after: self.login.slow_after,
            window: self.login.window,
        }
    }

    /// The protocol layer's settings.
    pub fn protocol(&self) -> crate::oauth::Protocol {
        crate::oauth::Protocol {
            issuer: self.server.issuer.clone(),
            access_token_ttl: self.tokens.access_token_ttl,
            refresh_token_ttl: self.tokens.refresh_token_ttl,
            refresh_reuse_grace: self.tokens.refresh_reuse_grace,
            code_ttl: self.tokens.code_ttl,
            device_code_ttl: self.tokens.device_code_ttl,
            device_poll_interval: self.tokens.device_poll_interval,
            session_ttl: self.sessions.ttl,
            require_par: self.tokens.require_par,
            mfa_required: self.login.mfa_required,
            login: self.login_policy(),
            registration: crate::oauth::registration::Policy {
                mode: self.registration.mode,
                scope: self.registration.scope.clone(),
            },
        }
    }

    /// Cookies get `Secure` whenever the issuer is served over https.
    pub fn secure_cookies(&self) -> bool {
        self.server.issuer.starts_with("https://")
    }

    /// The rotation schedule. A new key is published one JWKS cache lifetime
    /// plus one reload interval (and a second of slack) before it signs: by
    /// then every replica serves it and every relying party's cached JWKS has
    /// expired at least once.
    pub fn schedule(&self) -> crate::keys::lifecycle::Schedule {
        crate::keys::lifecycle::Schedule {
            period: self.keys.rotation_period,
            prepublish: self.keys.jwks_max_age + self.keys.refresh_interval + RELOAD_SLACK,
            grace: self.retired_key_grace(),
        }
    }

    /// How long a retired key stays in the JWKS: until the last token it
    /// signed has expired and every relying party's cached JWKS has too.
    pub fn retired_key_grace(&self) -> i64 {
        self.tokens.access_token_ttl
            + self.keys.jwks_max_age
            + self.keys.refresh_interval
            + RELOAD_SLACK
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn load(env: &[(&str, &str)], flags: &[(&'static str, &str)]) -> Result<Settings, ConfigError> {
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let flags = Overrides(flags.iter().map(|(k, v)| (*k, v.to_string())).collect());
        Settings::load(None, |k| env.get(k).cloned(), &flags)
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let s = load(&[], &[]).expect("defaults are valid");
        assert_eq!(s.tokens.access_token_ttl, 300);
        assert_eq!(s.tokens.refresh_token_ttl, 86_400);
        assert_eq!(s.server.issuer, "http://127.0.0.1:8080");
        assert_eq!(
            s.database.url,
            DatabaseUrl::Sqlite("data/portcullis.db".into())
        );
    }

    #[test]
    fn flags_beat_environment() {
        let s = load(
            &[("PORTCULLIS_ACCESS_TOKEN_TTL", "60")],
            &[("access_token_ttl", "90")],
        )
        .unwrap();
        assert_eq!(s.tokens.access_token_ttl, 90);
        let s = load(&[("PORTCULLIS_ACCESS_TOKEN_TTL", "60")], &[]).unwrap();
        assert_eq!(s.tokens.access_token_ttl, 60);
    }

    #[test]
    fn a_bad_value_names_its_setting() {
        let err = load(&[("PORTCULLIS_REFRESH_TOKEN_TTL", "soon")], &[]).unwrap_err();
        assert!(
            err.to_string().contains("PORTCULLIS_REFRESH_TOKEN_TTL"),
            "{err}"
        );
        let err = load(&[("PORTCULLIS_ISSUER", "ftp://x")], &[]).unwrap_err();
        assert!(err.to_string().contains("PORTCULLIS_ISSUER"), "{err}");
        let err = load(&[], &[("database_url", "mysql://x")]).unwrap_err();
        assert!(err.to_string().contains("--database-url"), "{err}");
    }

    #[test]
    fn registration_is_off_by_default_and_names_a_bad_mode() {
        let s = load(&[], &[]).unwrap();
        assert_eq!(s.registration.mode, RegistrationMode::Off);
        assert_eq!(s.registration.rate_limit, 20);
        assert_eq!(s.registration.scope.to_string(), "openid profile email");
        let s = load(&[("PORTCULLIS_REGISTRATION", "token")], &[]).unwrap();
        assert_eq!(s.registration.mode, RegistrationMode::Token);
        let err = load(&[("PORTCULLIS_REGISTRATION", "yes")], &[]).unwrap_err();
        assert!(err.to_string().contains("PORTCULLIS_REGISTRATION"), "{err}");
        let err = load(&[("PORTCULLIS_REGISTRATION_SCOPE", " ")], &[]).unwrap_err();
        assert!(
            err.to_string().contains("PORTCULLIS_REGISTRATION_SCOPE"),
            "{err}"
        );
    }

    #[test]
    fn outbound_fetches_stay_off_private_addresses_unless_allowed() {
        let s = load(&[], &[]).unwrap();
        assert!(!s.outbound.allow_private_addresses);
        let s = load(
            &[("PORTCULLIS_OUTBOUND_ALLOW_PRIVATE_ADDRESSES", "true")],
            &[],
        )
        .unwrap();
        assert!(s.outbound.allow_private_addresses);
        let err = load(
            &[("PORTCULLIS_OUTBOUND_ALLOW_PRIVATE_ADDRESSES", "maybe")],
            &[],
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("PORTCULLIS_OUTBOUND_ALLOW_PRIVATE_ADDRESSES"),
            "{err}"
        );
    }

    #[test]
    fn postgres_urls_are_accepted() {
        let s = load(
            &[("PORTCULLIS_DATABASE_URL", "postgres://localhost/portcullis")],
            &[],
        )
        .unwrap();
        assert!(matches!(s.database.url, DatabaseUrl::Postgres(_)));
    }

    #[test]
    fn file_layer_sits_between_defaults_and_environment() {
        let dir = std::env::temp_dir().join(format!(
            "portcullis-cfg-{}",
            crate::secrets::random_token(6)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("portcullis.toml");
        std::fs::write(
            &path,
            "access_token_ttl = 120\nissuer = \"https://id.example.com/\"\n",
        )
        .unwrap();
        let s = Settings::load(Some(&path), |_| None, &Overrides::default()).unwrap();
        assert_eq!(s.tokens.access_token_ttl, 120);
        assert_eq!(s.server.issuer, "https://id.example.com");
        std::fs::write(&path, "acess_token_ttl = 120\n").unwrap();
        let err = Settings::load(Some(&path), |_| None, &Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("acess_token_ttl"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
