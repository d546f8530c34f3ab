//! The token endpoint's parsing: a form body, and an Authorization header
//! taken from the input's first line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::oauth::form;
use portcullis::oauth::token::TokenRequest;

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (std::str::from_utf8(&data[..i]).ok(), &data[i + 1..]),
        None => (None, data),
    };
    if let Ok(params) = form::parse(body) {
        let _ = TokenRequest::parse(&params, header);
    }
});
