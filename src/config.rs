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
//! - `PORTCULLIS_KEY_ROTATION_PERIOD` — how long a key signs before the scheduler replaces it, seconds (default 2592000 = 30 days; 0 = never)
//! - `PORTCULLIS_LOGIN_MAX_FAILURES` — failed logins per username within the window before 429 (default 10; 0 = no limit)
//! - `PORTCULLIS_LOGIN_MAX_FAILURES_PER_ADDRESS` — the same per client address (default 100; 0 = no limit)
//! - `PORTCULLIS_LOGIN_SLOW_AFTER`   — failures after which answers are delayed (default 3; 0 = never)
//! - `PORTCULLIS_LOGIN_WINDOW`       — the counting window, seconds (default 900)
//! - `PORTCULLIS_TOKEN_RATE_LIMIT`   — requests per second per client at /token, per replica (default 0 = no limit)
//! - `PORTCULLIS_REFRESH_REUSE_GRACE` — seconds in which replaying the refresh token just spent gets a fresh pair instead of a family revocation (default 0 = off)

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::store::DatabaseUrl;

/// Seconds added to the key lifecycle's timings for the time a reload itself
/// takes: a replica starts serving what the database holds a little after
/// each `key_refresh_interval`, not on it.
const RELOAD_SLACK: i64 = 1;

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: DatabaseUrl,
    pub bind: SocketAddr,
    pub issuer: String,
    pub kek_file: PathBuf,
    pub access_token_ttl: i64,
    pub refresh_token_ttl: i64,
    pub jwks_max_age: i64,
    pub key_refresh_interval: i64,
    pub db_pool_size: u32,
    pub session_ttl: i64,
    pub code_ttl: i64,
    pub key_rotation_period: i64,
    pub refresh_reuse_grace: i64,
    pub login_max_failures: i64,
    pub login_max_failures_per_address: i64,
    pub login_slow_after: i64,
    pub login_window: i64,
    pub token_rate_limit: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid setting {name}: {reason}")]
    Invalid { name: String, reason: String },
    #[error("cannot read config file {path}: {reason}")]
    File { path: String, reason: String },
}

/// One setting: its key in the TOML file, its environment variable, its default.
struct Spec {
    key: &'static str,
    env: &'static str,
    default: &'static str,
}

const SPECS: &[Spec] = &[
    Spec {
        key: "database_url",
        env: "PORTCULLIS_DATABASE_URL",
        default: "sqlite://data/portcullis.db",
    },
    Spec {
        key: "bind",
        env: "PORTCULLIS_BIND",
        default: "127.0.0.1:8080",
    },
    Spec {
        key: "issuer",
        env: "PORTCULLIS_ISSUER",
        default: "http://127.0.0.1:8080",
    },
    Spec {
        key: "kek_file",
        env: "PORTCULLIS_KEK_FILE",
        default: "keys/kek",
    },
    Spec {
        key: "access_token_ttl",
        env: "PORTCULLIS_ACCESS_TOKEN_TTL",
        default: "300",
    },
    Spec {
        key: "refresh_token_ttl",
        env: "PORTCULLIS_REFRESH_TOKEN_TTL",
        default: "86400",
    },
    Spec {
        key: "jwks_max_age",
        env: "PORTCULLIS_JWKS_MAX_AGE",
        default: "300",
    },
    Spec {
        key: "key_refresh_interval",
        env: "PORTCULLIS_KEY_REFRESH_INTERVAL",
        default: "10",
    },
    Spec {
        key: "db_pool_size",
        env: "PORTCULLIS_DB_POOL_SIZE",
        default: "8",
    },
    Spec {
        key: "session_ttl",
        env: "PORTCULLIS_SESSION_TTL",
        default: "86400",
    },
    Spec {
        key: "code_ttl",
        env: "PORTCULLIS_CODE_TTL",
        default: "60",
    },
    Spec {
        key: "key_rotation_period",
        env: "PORTCULLIS_KEY_ROTATION_PERIOD",
        default: "2592000",
    },
    Spec {
        key: "refresh_reuse_grace",
        env: "PORTCULLIS_REFRESH_REUSE_GRACE",
        default: "0",
    },
    Spec {
        key: "login_max_failures",
        env: "PORTCULLIS_LOGIN_MAX_FAILURES",
        default: "10",
    },
    Spec {
        key: "login_max_failures_per_address",
        env: "PORTCULLIS_LOGIN_MAX_FAILURES_PER_ADDRESS",
        default: "100",
    },
    Spec {
        key: "login_slow_after",
        env: "PORTCULLIS_LOGIN_SLOW_AFTER",
        default: "3",
    },
    Spec {
        key: "login_window",
        env: "PORTCULLIS_LOGIN_WINDOW",
        default: "900",
    },
    Spec {
        key: "token_rate_limit",
        env: "PORTCULLIS_TOKEN_RATE_LIMIT",
        default: "0",
    },
];

/// A raw value and where it came from, so an error can name its source.
#[derive(Debug, Clone)]
struct Raw {
    value: String,
    source: String,
}

/// Settings given on the command line, by TOML key.
#[derive(Debug, Default, Clone)]
pub struct Overrides(pub BTreeMap<&'static str, String>);

impl Settings {
    /// Defaults → file → environment → flags, then validation.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
        flags: &Overrides,
    ) -> Result<Self, ConfigError> {
        let mut raw: BTreeMap<&'static str, Raw> = SPECS
            .iter()
            .map(|s| {
                (
                    s.key,
                    Raw {
                        value: s.default.to_owned(),
                        source: format!("{} (default)", s.key),
                    },
                )
            })
            .collect();
        if let Some(path) = file {
            for (key, value) in read_file(path)? {
                let spec =
                    SPECS
                        .iter()
                        .find(|s| s.key == key)
                        .ok_or_else(|| ConfigError::File {
                            path: path.display().to_string(),
                            reason: format!("unknown setting `{key}`"),
                        })?;
                raw.insert(
                    spec.key,
                    Raw {
                        value,
                        source: format!("{} in {}", key, path.display()),
                    },
                );
            }
        }
        for spec in SPECS {
            if let Some(value) = env(spec.env) {
                raw.insert(
                    spec.key,
                    Raw {
                        value,
                        source: spec.env.to_owned(),
                    },
                );
            }
        }
        for (key, value) in &flags.0 {
            raw.insert(
                key,
                Raw {
                    value: value.clone(),
                    source: format!("--{}", key.replace('_', "-")),
                },
            );
        }
        Self::from_raw(&raw)
    }

    /// Defaults and the process environment only; what tests and tools start from.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::load(None, |k| std::env::var(k).ok(), &Overrides::default())
    }

    fn from_raw(raw: &BTreeMap<&'static str, Raw>) -> Result<Self, ConfigError> {
        let get = |key: &str| -> &Raw {
            // Every key has a default, so the map always holds it.
            &raw[key]
        };
        let database_url = {
            let r = get("database_url");
            DatabaseUrl::parse(r.value.trim()).map_err(|reason| invalid(r, reason))?
        };
        let bind = {
            let r = get("bind");
            r.value
                .trim()
                .parse::<SocketAddr>()
                .map_err(|_| invalid(r, format!("expected IP:PORT, got `{}`", r.value)))?
        };
        let issuer = parse_issuer(get("issuer"))?;
        let kek_file = {
            let r = get("kek_file");
            if r.value.trim().is_empty() {
                return Err(invalid(r, "must not be empty".into()));
            }
            PathBuf::from(r.value.trim())
        };
        Ok(Settings {
            database_url,
            bind,
            issuer,
            kek_file,
            access_token_ttl: number(get("access_token_ttl"), 1, 86_400)?,
            refresh_token_ttl: number(get("refresh_token_ttl"), 1, 365 * 86_400)?,
            jwks_max_age: number(get("jwks_max_age"), 0, 86_400)?,
            key_refresh_interval: number(get("key_refresh_interval"), 1, 3_600)?,
            db_pool_size: number(get("db_pool_size"), 1, 256)? as u32,
            session_ttl: number(get("session_ttl"), 60, 365 * 86_400)?,
            code_ttl: number(get("code_ttl"), 1, 600)?,
            key_rotation_period: number(get("key_rotation_period"), 0, 10 * 365 * 86_400)?,
            refresh_reuse_grace: number(get("refresh_reuse_grace"), 0, 300)?,
            login_max_failures: number(get("login_max_failures"), 0, 1_000_000)?,
            login_max_failures_per_address: number(
                get("login_max_failures_per_address"),
                0,
                1_000_000,
            )?,
            login_slow_after: number(get("login_slow_after"), 0, 1_000_000)?,
            login_window: number(get("login_window"), 1, 86_400)?,
            token_rate_limit: number(get("token_rate_limit"), 0, 1_000_000)?,
        })
    }

    /// The brute-force policy for password logins.
    pub fn login_policy(&self) -> crate::accounts::throttle::Policy {
        crate::accounts::throttle::Policy {
            max_per_user: self.login_max_failures,
            max_per_address: self.login_max_failures_per_address,
            slow_after: self.login_slow_after,
            window: self.login_window,
        }
    }

    /// The protocol layer's settings.
    pub fn protocol(&self) -> crate::oauth::Protocol {
        crate::oauth::Protocol {
            issuer: self.issuer.clone(),
            access_token_ttl: self.access_token_ttl,
            refresh_token_ttl: self.refresh_token_ttl,
            refresh_reuse_grace: self.refresh_reuse_grace,
            code_ttl: self.code_ttl,
            session_ttl: self.session_ttl,
            login: self.login_policy(),
        }
    }

    /// Cookies get `Secure` whenever the issuer is served over https.
    pub fn secure_cookies(&self) -> bool {
        self.issuer.starts_with("https://")
    }

    /// The rotation schedule. A new key is published one JWKS cache lifetime
    /// plus one reload interval (and a second of slack) before it signs: by
    /// then every replica serves it and every relying party's cached JWKS has
    /// expired at least once.
    pub fn schedule(&self) -> crate::keys::lifecycle::Schedule {
        crate::keys::lifecycle::Schedule {
            period: self.key_rotation_period,
            prepublish: self.jwks_max_age + self.key_refresh_interval + RELOAD_SLACK,
            grace: self.retired_key_grace(),
        }
    }

    /// How long a retired key stays in the JWKS: until the last token it
    /// signed has expired and every relying party's cached JWKS has too.
    pub fn retired_key_grace(&self) -> i64 {
        self.access_token_ttl + self.jwks_max_age + self.key_refresh_interval + RELOAD_SLACK
    }
}

fn invalid(raw: &Raw, reason: String) -> ConfigError {
    ConfigError::Invalid {
        name: raw.source.clone(),
        reason,
    }
}

fn number(raw: &Raw, min: i64, max: i64) -> Result<i64, ConfigError> {
    let n: i64 = raw
        .value
        .trim()
        .parse()
        .map_err(|_| invalid(raw, format!("expected a whole number, got `{}`", raw.value)))?;
    if n < min || n > max {
        return Err(invalid(
            raw,
            format!("must be between {min} and {max}, got {n}"),
        ));
    }
    Ok(n)
}

fn parse_issuer(raw: &Raw) -> Result<String, ConfigError> {
    let value = raw.value.trim().trim_end_matches('/');
    let url = url::Url::parse(value).map_err(|e| invalid(raw, format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(raw, "must be an http or https URL".into()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            raw,
            "must not have a query or fragment (RFC 8414 §2)".into(),
        ));
    }
    Ok(value.to_owned())
}

fn read_file(path: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    let err = |reason: String| ConfigError::File {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| err(e.message().to_owned()))?;
    table
        .into_iter()
        .map(|(key, value)| match value {
            toml::Value::String(s) => Ok((key, s)),
            toml::Value::Integer(i) => Ok((key, i.to_string())),
            other => Err(err(format!(
                "`{key}` must be a string or an integer, got {}",
                other.type_str()
            ))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(s.access_token_ttl, 300);
        assert_eq!(s.refresh_token_ttl, 86_400);
        assert_eq!(s.issuer, "http://127.0.0.1:8080");
        assert_eq!(
            s.database_url,
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
        assert_eq!(s.access_token_ttl, 90);
        let s = load(&[("PORTCULLIS_ACCESS_TOKEN_TTL", "60")], &[]).unwrap();
        assert_eq!(s.access_token_ttl, 60);
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
    fn postgres_urls_are_accepted() {
        let s = load(
            &[("PORTCULLIS_DATABASE_URL", "postgres://localhost/portcullis")],
            &[],
        )
        .unwrap();
        assert!(matches!(s.database_url, DatabaseUrl::Postgres(_)));
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
        assert_eq!(s.access_token_ttl, 120);
        assert_eq!(s.issuer, "https://id.example.com");
        std::fs::write(&path, "acess_token_ttl = 120\n").unwrap();
        let err = Settings::load(Some(&path), |_| None, &Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("acess_token_ttl"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
