//! Property tests of the protocol rules that decide who gets what: scopes,
//! PKCE, redirect-URI matching, and the strict form parser.

use base64::Engine;
use portcullis::keys::SigningAlg;
use portcullis::oauth::authorize::{self, AuthorizeError};
use portcullis::oauth::clients::{Client, GrantType};
use portcullis::oauth::{form, pkce, Scope};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

fn scope_token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9:_.-]{1,12}"
}

fn client(redirects: Vec<String>) -> Client {
    Client::for_tests(
        "app",
        true,
        vec![GrantType::AuthorizationCode],
        redirects,
        Scope::parse("openid profile email").unwrap(),
        SigningAlg::Rs256,
        false,
    )
}

fn request(redirect: &str, challenge: &str) -> form::Params {
    [
        ("client_id", "app"),
        ("redirect_uri", redirect),
        ("response_type", "code"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect::<Vec<_>>()
    .into()
}

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

proptest! {
    #[test]
    fn scope_round_trips_and_grant_never_widens(
        allowed in prop::collection::vec(scope_token(), 0..6),
        asked in prop::collection::vec(scope_token(), 0..6),
    ) {
        let allowed = Scope::parse(&allowed.join(" ")).unwrap();
        prop_assert_eq!(Scope::parse(&allowed.to_string()).unwrap(), allowed.clone());
        let asked_text = asked.join(" ");
        match Scope::grant(Some(&asked_text), &allowed) {
            Ok(granted) => {
                prop_assert!(granted.is_subset_of(&allowed));
                prop_assert!(Scope::parse(&asked_text).unwrap().is_subset_of(&allowed));
            }
            Err(_) => prop_assert!(!Scope::parse(&asked_text).unwrap().is_subset_of(&allowed)),
        }
    }

    #[test]
    fn pkce_accepts_exactly_the_verifier_behind_the_challenge(
        verifier in "[A-Za-z0-9._~-]{43,128}",
        other in "[A-Za-z0-9._~-]{43,128}",
    ) {
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        prop_assert!(pkce::verify(Some(&challenge), Some(&verifier)).is_ok());
        if other != verifier {
            prop_assert!(pkce::verify(Some(&challenge), Some(&other)).is_err());
        }
        prop_assert!(pkce::verify(Some(&challenge), None).is_err());
    }

    #[test]
    fn only_the_exact_registered_redirect_uri_is_accepted(
        path in "/[a-z]{0,8}",
        port in 1u16..65535,
        mutation in 0usize..5,
    ) {
        let registered = format!("https://app.example.com:{port}{path}");
        let c = client(vec![registered.clone()]);
        prop_assert!(authorize::validate(&request(&registered, CHALLENGE), &c).is_ok());
        let changed = match mutation {
            0 => format!("{registered}/"),
            1 => registered.replace("https://", "http://"),
            2 => registered.replace("app.example.com", "APP.example.com"),
            3 => format!("{registered}?x=1"),
            _ => registered.replace(&format!(":{port}"), &format!(":{}", port.wrapping_add(1).max(1))),
        };
        prop_assume!(changed != registered);
        let refused = matches!(authorize::validate(&request(&changed, CHALLENGE), &c), Err(AuthorizeError::Page(_)));
        prop_assert!(refused, "{} was accepted for {}", changed, registered);
    }

    #[test]
    fn the_form_parser_never_panics_and_round_trips_what_it_encodes(
        pairs in prop::collection::vec(("[a-z_]{1,10}", "\\PC{0,20}"), 0..8),
        junk in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let _ = form::parse(&junk);
        let encoded: String = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", k, url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()))
            .collect::<Vec<_>>()
            .join("&");
        let parsed = form::parse(encoded.as_bytes());
        let has_control = pairs.iter().any(|(_, v)| v.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')));
        if !has_control {
            let expected: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            prop_assert_eq!(parsed.unwrap().into_pairs(), expected);
        }
    }
}
