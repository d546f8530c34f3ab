//! Parsing one raw value, with an error that names where it came from.

use super::spec::Raw;
use super::ConfigError;

pub(super) fn invalid(raw: &Raw, reason: String) -> ConfigError {
    ConfigError::Invalid {
        name: raw.source.clone(),
        reason,
    }
}

pub(super) fn number(raw: &Raw, min: i64, max: i64) -> Result<i64, ConfigError> {
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

pub(super) fn boolean(raw: &Raw) -> Result<bool, ConfigError> {
    match raw.value.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "1" => Ok(true),
        "false" | "off" | "no" | "0" => Ok(false),
        _ => Err(invalid(
            raw,
            format!("expected true or false, got `{}`", raw.value),
        )),
    }
}

pub(super) fn parse_issuer(raw: &Raw) -> Result<String, ConfigError> {
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
