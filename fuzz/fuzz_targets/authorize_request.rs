//! The authorization endpoint's request validation, for a fixed client.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::keys::SigningAlg;
use portcullis::oauth::authorize::{validate, AuthorizeError};
use portcullis::oauth::clients::{Client, GrantType};
use portcullis::oauth::{form, Scope};

fuzz_target!(|data: &[u8]| {
    let Ok(params) = form::parse(data) else { return };
    let Ok(scope) = Scope::parse("openid profile email") else { return };
    let client = Client::for_tests(
        "app",
        true,
        vec![GrantType::AuthorizationCode],
        vec!["https://app.example.com/cb".into()],
        scope,
        SigningAlg::Rs256,
        false,
    );
    match validate(&params, &client) {
        // Whatever is accepted uses the registered redirect URI, exactly.
        Ok(request) => assert_eq!(request.redirect_uri, "https://app.example.com/cb"),
        Err(AuthorizeError::Redirect { redirect_uri, .. }) => assert_eq!(redirect_uri, "https://app.example.com/cb"),
        Err(AuthorizeError::Page(_)) => {}
    }
});
