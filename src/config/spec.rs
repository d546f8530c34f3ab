//! The settings table and its layers: built-in defaults, a TOML file,
//! environment variables, command-line flags — each overriding the one
//! before. Values stay text here, with where each came from, so that an
//! error names its source; `mod.rs` parses them into typed sections.

use std::collections::BTreeMap;
use std::path::Path;

use super::ConfigError;

/// One setting: its key in the TOML file, its environment variable, its default.
pub(super) struct Spec {
    pub(super) key: &'static str,
    pub(super) env: &'static str,
    pub(super) default: &'static str,
}

pub(super) const SPECS: &[Spec] = &[
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
        key: "device_code_ttl",
        env: "PORTCULLIS_DEVICE_CODE_TTL",
        default: "600",
    },
    Spec {
        key: "device_poll_interval",
        env: "PORTCULLIS_DEVICE_POLL_INTERVAL",
        default: "5",
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
    Spec {
        key: "dpop_nonce",
        env: "PORTCULLIS_DPOP_NONCE",
        default: "false",
    },
    Spec {
        key: "require_pushed_authorization_requests",
        env: "PORTCULLIS_REQUIRE_PUSHED_AUTHORIZATION_REQUESTS",
        default: "false",
    },
    Spec {
        key: "mfa_required",
        env: "PORTCULLIS_MFA_REQUIRED",
        default: "false",
    },
    Spec {
        key: "registration",
        env: "PORTCULLIS_REGISTRATION",
        default: "off",
    },
    Spec {
        key: "registration_rate_limit",
        env: "PORTCULLIS_REGISTRATION_RATE_LIMIT",
        default: "20",
    },
    Spec {
        key: "registration_scope",
        env: "PORTCULLIS_REGISTRATION_SCOPE",
        default: "openid profile email",
    },
    Spec {
        key: "outbound_allow_private_addresses",
        env: "PORTCULLIS_OUTBOUND_ALLOW_PRIVATE_ADDRESSES",
        default: "false",
    },
];

/// A raw value and where it came from, so an error can name its source.
#[derive(Debug, Clone)]
pub(super) struct Raw {
    pub(super) value: String,
    pub(super) source: String,
}

/// Settings given on the command line, by TOML key.
#[derive(Debug, Default, Clone)]
pub struct Overrides(pub BTreeMap<&'static str, String>);

/// Defaults → file → environment → flags: every key's raw value.
pub(super) fn layered(
    file: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
    flags: &Overrides,
) -> Result<BTreeMap<&'static str, Raw>, ConfigError> {
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
            let spec = SPECS
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
    Ok(raw)
}

/// The file's settings. Today every setting is a scalar (a string or an
/// integer); a section that needs a nested table (a list of upstream
/// providers, say) will take its table from here by name before the
/// scalars are read.
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
    use super::SPECS;

    /// The README's configuration table lists exactly these settings, with
    /// their variables and defaults: documentation cannot drift from them.
    #[test]
    fn the_readme_table_is_the_settings_table() {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("## Configuration")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .expect("README has a Configuration section");
        let mut documented: Vec<(String, String, String)> = section
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|l| {
                let cells: Vec<&str> = l.split('|').map(|c| c.trim().trim_matches('`')).collect();
                (
                    cells[1].to_owned(),
                    cells[2].to_owned(),
                    cells[4].to_owned(),
                )
            })
            .collect();
        let mut specs: Vec<(String, String, String)> = SPECS
            .iter()
            .map(|s| (s.key.to_owned(), s.env.to_owned(), s.default.to_owned()))
            .collect();
        // The README orders rows for a reader; the set is what must agree.
        documented.sort();
        specs.sort();
        assert_eq!(documented, specs);
    }

    /// The module header of config/mod.rs names every variable too.
    #[test]
    fn the_module_header_names_every_variable() {
        let header = include_str!("mod.rs");
        for spec in SPECS {
            assert!(
                header.contains(&format!("`{}`", spec.env)),
                "{} is not in config/mod.rs's header",
                spec.env
            );
        }
    }
}
