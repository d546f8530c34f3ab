//! The metadata rules, one case each.
use super::*;

fn policy(mode: Mode) -> Policy {
    Policy {
        mode,
        scope: Scope::parse("openid profile email").unwrap(),
    }
}

fn parse_json(body: Value, mode: Mode) -> Result<NewClient, Error> {
    let Value::Object(map) = body else {
        panic!("a test body is an object")
    };
    parse(&map, &policy(mode), remote::Policy::default(), "c1".into())
}

fn code_of(body: Value, mode: Mode) -> ErrorCode {
    match parse_json(body, mode) {
        Ok(_) => panic!("expected a refusal"),
        Err(e) => e.code,
    }
}

#[test]
fn a_minimal_registration_gets_the_rfc_defaults_and_is_third_party() {
    let client = parse_json(
        json!({"redirect_uris": ["https://app.example.com/cb"], "unknown_field": 42}),
        Mode::Open,
    )
    .unwrap();
    assert_eq!(client.grant_types, vec![GrantType::AuthorizationCode]);
    assert!(!client.public, "client_secret_basic is the default");
    assert!(client.consent && client.dynamic);
    assert_eq!(client.scope, "openid profile email");
    assert_eq!(
        client.metadata.get("token_endpoint_auth_method"),
        Some(&json!("client_secret_basic"))
    );
    assert!(
        !client.metadata.contains_key("unknown_field"),
        "§2: ignored"
    );
}

#[test]
fn the_signing_algorithm_is_any_one_portcullis_signs_with_by_its_exact_name() {
    let cb = json!(["https://app.example.com/cb"]);
    let alg = |name: Value| {
        parse_json(
            json!({"redirect_uris": cb, "id_token_signed_response_alg": name}),
            Mode::Open,
        )
    };
    assert_eq!(
        alg(Value::Null).unwrap().signing_alg,
        NewClient::DEFAULT_SIGNING_ALG
    );
    for known in SigningAlg::ALL {
        let client = alg(json!(known.as_str())).unwrap();
        assert_eq!(client.signing_alg, known);
        assert!(!client.metadata.contains_key("id_token_signed_response_alg"));
    }
    for refused in [json!("eddsa"), json!("none"), json!("HS256"), json!(256)] {
        let code = alg(refused.clone()).map(|_| ()).map_err(|e| e.code);
        assert_eq!(code, Err(ErrorCode::InvalidClientMetadata), "{refused}");
    }
}

#[test]
fn none_makes_a_public_client_and_metadata_is_kept() {
    let client = parse_json(
        json!({
            "redirect_uris": ["com.example.app:/cb"],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "client_name": "Example",
            "scope": "openid email",
            "logo_uri": "https://example.com/logo.png",
            "contacts": ["ops@example.com"],
            "software_id": "4NRB1-0XZABZI9E6-5SM3R",
        }),
        Mode::Open,
    )
    .unwrap();
    assert!(client.public);
    assert_eq!(client.name.as_deref(), Some("Example"));
    assert_eq!(client.scope, "openid email");
    for key in ["logo_uri", "contacts", "software_id"] {
        assert!(client.metadata.contains_key(key), "{key} kept");
    }
}

#[test]
fn grants_depend_on_the_mode_and_password_is_never_given() {
    let cc = json!({"grant_types": ["client_credentials"]});
    assert_eq!(
        code_of(cc.clone(), Mode::Open),
        ErrorCode::InvalidClientMetadata
    );
    let client = parse_json(cc, Mode::Token).unwrap();
    assert_eq!(client.grant_types, vec![GrantType::ClientCredentials]);
    for mode in [Mode::Open, Mode::Token] {
        assert_eq!(
            code_of(
                json!({"grant_types": ["password"], "response_types": []}),
                mode
            ),
            ErrorCode::InvalidClientMetadata
        );
    }
    // A public client cannot hold client credentials: the shared rule.
    assert_eq!(
        code_of(
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}),
            Mode::Token
        ),
        ErrorCode::InvalidClientMetadata
    );
}

#[test]
fn each_bad_field_is_named_by_its_code() {
    let cb = json!(["https://app.example.com/cb"]);
    let cases = [
        (
            json!({"redirect_uris": ["http://app.example.com/cb"]}),
            ErrorCode::InvalidRedirectUri,
        ),
        (
            json!({"redirect_uris": ["https://app.example.com/cb#x"]}),
            ErrorCode::InvalidRedirectUri,
        ),
        (json!({}), ErrorCode::InvalidRedirectUri),
        (
            json!({"redirect_uris": cb, "post_logout_redirect_uris": ["ftp://x"]}),
            ErrorCode::InvalidRedirectUri,
        ),
        (
            json!({"redirect_uris": "https://app.example.com/cb"}),
            ErrorCode::InvalidClientMetadata,
        ),
        (
            json!({"redirect_uris": cb, "response_types": ["token"]}),
            ErrorCode::InvalidClientMetadata,
        ),
        (
            json!({"redirect_uris": cb, "response_types": []}),
            ErrorCode::InvalidClientMetadata,
        ),
        (
            json!({"grant_types": ["refresh_token"], "response_types": ["code"]}),
            ErrorCode::InvalidClientMetadata,
        ),
        (
            json!({"grant_types": ["client_credentials", "refresh_token"]}),
            ErrorCode::InvalidClientMetadata,
        ),
        (
            json!({"redirect_uris": cb, "grant_types": ["implicit"]}),
            ErrorCode::InvalidClientMetadata,
        ),
        (
            json!({"redirect_uris": cb, "token_endpoint_auth_method": "private_key_jwt"}),
            ErrorCode::InvalidClientMetadata,
        ),
        (
            json!({"redirect_uris": cb, "scope": "openid admin"}),
            ErrorCode::InvalidClientMetadata,
        ),
        (
            json!({"redirect_uris": cb, "scope": "bad\"scope"}),
            ErrorCode::InvalidClientMetadata,
        ),
        (
            json!({"redirect_uris": cb, "logo_uri": "http://example.com/logo.png"}),
            ErrorCode::InvalidClientMetadata,
        ),
        (
            json!({"redirect_uris": cb, "jwks": {"kty": "EC"}}),
            ErrorCode::InvalidClientMetadata,
        ),
        (
            json!({"redirect_uris": cb, "token_endpoint_auth_method": "private_key_jwt",
                   "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}),
            ErrorCode::InvalidClientMetadata,
        ),
        (
            json!({"redirect_uris": cb, "token_endpoint_auth_method": "private_key_jwt",
                   "jwks_uri": "http://client.example.com/jwks"}),
            ErrorCode::InvalidClientMetadata,
        ),
        (
            json!({"redirect_uris": cb, "token_endpoint_auth_method": "private_key_jwt",
                   "jwks_uri": "https://client.example.com/jwks",
                   "token_endpoint_auth_signing_alg": "HS256"}),
            ErrorCode::InvalidClientMetadata,
        ),
        (
            json!({"redirect_uris": cb, "token_endpoint_auth_signing_alg": "ES256"}),
            ErrorCode::InvalidClientMetadata,
        ),
        (
            json!({"redirect_uris": cb, "jwks": {"keys": []}, "jwks_uri": "https://example.com/jwks"}),
            ErrorCode::InvalidClientMetadata,
        ),
        (
            json!({"redirect_uris": cb, "contacts": [1]}),
            ErrorCode::InvalidClientMetadata,
        ),
        (
            json!({"redirect_uris": cb, "client_name": 7}),
            ErrorCode::InvalidClientMetadata,
        ),
        (
            json!({"redirect_uris": cb, "software_statement": "eyJ..."}),
            ErrorCode::InvalidSoftwareStatement,
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(code_of(body.clone(), Mode::Open), expected, "{body}");
    }
}

#[test]
fn private_key_jwt_keeps_its_keys_in_their_fields() {
    let client = parse_json(
        json!({"redirect_uris": ["https://a.example/cb"],
               "token_endpoint_auth_method": "private_key_jwt",
               "token_endpoint_auth_signing_alg": "ES256",
               "jwks_uri": "https://a.example/jwks.json"}),
        Mode::Open,
    )
    .unwrap();
    assert_eq!(client.auth_method, Some(AuthMethod::PrivateKeyJwt));
    assert!(!client.public);
    assert_eq!(
        client.jwks_uri.as_deref(),
        Some("https://a.example/jwks.json")
    );
    assert!(!client.metadata.contains_key("jwks_uri"));
    assert_eq!(
        client.metadata.get("token_endpoint_auth_signing_alg"),
        Some(&json!("ES256"))
    );
}

#[test]
fn null_is_absent() {
    let client = parse_json(
        json!({"redirect_uris": ["https://a.example/cb"], "logo_uri": null, "software_statement": null}),
        Mode::Open,
    )
    .unwrap();
    assert!(!client.metadata.contains_key("logo_uri"));
}
