//! The `Authorization: Basic` parser (RFC 6749 §2.3.1).
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::oauth::client_auth::parse_basic;

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = std::str::from_utf8(data) {
        if let Ok((id, _secret)) = parse_basic(header) {
            assert!(!id.is_empty());
        }
    }
});
