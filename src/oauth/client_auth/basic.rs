//! `client_secret_basic`: RFC 6749 §2.3.1 credentials in the Authorization header.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::oauth::form::percent_decode;
use crate::oauth::Error;

/// Parses `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
pub fn parse_basic(header: &str) -> Result<(String, String), Error> {
    let malformed =
        || Error::invalid_client("malformed Basic credentials").with_basic_challenge(true);
    let (scheme, value) = header.trim().split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(
            Error::invalid_client("unsupported authentication scheme").with_basic_challenge(true)
        );
    }
    let decoded = STANDARD.decode(value.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let unescape = |s: &str| -> Result<String, Error> {
        let bytes = percent_decode(s.as_bytes(), true).ok_or_else(malformed)?;
        String::from_utf8(bytes).map_err(|_| malformed())
    };
    let id = unescape(id)?;
    if id.is_empty() {
        return Err(malformed());
    }
    Ok((id, unescape(secret)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_url_decoded() {
        let header = format!("Basic {}", STANDARD.encode("my%20app:s%3Acret+x"));
        assert_eq!(
            parse_basic(&header).unwrap(),
            ("my app".to_owned(), "s:cret x".to_owned())
        );
    }

    #[test]
    fn malformed_basic_is_invalid_client_with_challenge() {
        for header in [
            "Basic !!!",
            "Bearer abc",
            "Basic",
            &format!("Basic {}", STANDARD.encode("nocolon")),
        ] {
            let err = parse_basic(header).unwrap_err();
            assert_eq!(err.code, crate::oauth::ErrorCode::InvalidClient, "{header}");
            assert!(err.basic_challenge);
        }
        assert!(parse_basic(&format!("Basic {}", STANDARD.encode("a%zz:b"))).is_err());
    }
}
