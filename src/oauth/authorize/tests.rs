//! Unit tests of the authorization endpoint's rules, without HTTP.

use super::*;
use crate::accounts::amr::Acr;
use crate::keys::SigningAlg;
use crate::oauth::clients::{Client, GrantType};
use crate::oauth::pkce::verify as verify_pkce;
use crate::oauth::{ErrorCode, Scope};

fn client(public: bool, consent: bool) -> Client {
    Client::for_tests(
        "app",
        public,
        vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        vec!["https://app.example.com/cb".into()],
        Scope::parse("openid profile email").unwrap(),
        SigningAlg::Rs256,
        consent,
    )
}

fn params(pairs: &[(&str, &str)]) -> crate::oauth::form::Params {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect::<Vec<_>>()
        .into()
}

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn base() -> Vec<(&'static str, &'static str)> {
    vec![
        ("client_id", "app"),
        ("redirect_uri", "https://app.example.com/cb"),
        ("response_type", "code"),
        ("scope", "openid email"),
        ("state", "xyz"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
}

fn redirect_code(r: Result<AuthorizeRequest, AuthorizeError>) -> ErrorCode {
    match r {
        Err(AuthorizeError::Redirect { error, state, .. }) => {
            assert_eq!(state.as_deref(), Some("xyz"));
            error.code
        }
        other => panic!("expected a redirect error, got {other:?}"),
    }
}

#[test]
fn a_good_request_validates() {
    let req = validate(&params(&base()), &client(true, false)).unwrap();
    assert_eq!(req.scope, "openid email");
    assert_eq!(req.code_challenge.as_deref(), Some(CHALLENGE));
}

#[test]
fn an_unregistered_redirect_uri_is_a_page_never_a_redirect() {
    for uri in [
        "https://evil.example.com/cb",
        "https://app.example.com/cb/",
        "https://APP.example.com/cb",
    ] {
        let mut p = base();
        p[1] = ("redirect_uri", uri);
        assert!(
            matches!(
                validate(&params(&p), &client(true, false)),
                Err(AuthorizeError::Page(_))
            ),
            "{uri}"
        );
    }
}

#[test]
fn pkce_rules() {
    let mut p = base();
    p[6] = ("code_challenge_method", "plain");
    assert_eq!(
        redirect_code(validate(&params(&p), &client(true, false))),
        ErrorCode::InvalidRequest
    );
    let p: Vec<_> = base()
        .into_iter()
        .filter(|(n, _)| !n.starts_with("code_challenge"))
        .collect();
    assert_eq!(
        redirect_code(validate(&params(&p), &client(true, false))),
        ErrorCode::InvalidRequest
    );
    assert!(
        validate(&params(&p), &client(false, false)).is_ok(),
        "PKCE optional for confidential clients"
    );
    // RFC 7636 appendix B's example.
    assert!(verify_pkce(
        Some(CHALLENGE),
        Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
    )
    .is_ok());
    assert!(verify_pkce(
        Some(CHALLENGE),
        Some("eBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
    )
    .is_err());
    assert!(verify_pkce(Some(CHALLENGE), None).is_err());
    assert!(verify_pkce(None, Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).is_err());
}

#[test]
fn other_errors_redirect_with_their_codes() {
    let mut p = base();
    p.push(("request", "eyJ..."));
    assert_eq!(
        redirect_code(validate(&params(&p), &client(true, false))),
        ErrorCode::RequestNotSupported
    );
    let mut p = base();
    p[2] = ("response_type", "token");
    assert_eq!(
        redirect_code(validate(&params(&p), &client(true, false))),
        ErrorCode::UnsupportedResponseType
    );
    let mut p = base();
    p[3] = ("scope", "openid admin");
    assert_eq!(
        redirect_code(validate(&params(&p), &client(true, false))),
        ErrorCode::InvalidScope
    );
    let mut p = base();
    p.push(("prompt", "none login"));
    assert_eq!(
        redirect_code(validate(&params(&p), &client(true, false))),
        ErrorCode::InvalidRequest
    );
    let mut p = base();
    p.push(("scope", "openid"));
    assert_eq!(
        redirect_code(validate(&params(&p), &client(true, false))),
        ErrorCode::InvalidRequest
    );
}

#[test]
fn next_step_follows_session_prompt_max_age_and_consent() {
    let c = client(true, false);
    let mut req = validate(&params(&base()), &c).unwrap();
    let s = SessionState {
        auth_time: 1000,
        acr: Acr::Pwd,
    };
    assert_eq!(
        next_step::<SessionState>(&req, &c, None, None, None, 1010, Acr::Pwd).unwrap(),
        Next::Login
    );
    assert_eq!(
        next_step(&req, &c, Some(&s), None, None, 1010, Acr::Pwd).unwrap(),
        Next::IssueCode(&s)
    );
    req.max_age = Some(5);
    assert_eq!(
        next_step(&req, &c, Some(&s), None, None, 1010, Acr::Pwd).unwrap(),
        Next::Login
    );
    req.max_age = None;
    req.prompt.login = true;
    assert_eq!(
        next_step(&req, &c, Some(&s), None, None, 1010, Acr::Pwd).unwrap(),
        Next::Login
    );
    assert_eq!(
        next_step(&req, &c, Some(&s), None, Some(999), 1010, Acr::Pwd).unwrap(),
        Next::IssueCode(&s)
    );
    req.prompt = Prompt {
        none: true,
        ..Prompt::default()
    };
    assert_eq!(
        next_step::<SessionState>(&req, &c, None, None, None, 1010, Acr::Pwd)
            .unwrap_err()
            .code,
        ErrorCode::LoginRequired
    );

    let third = client(true, true);
    let req = validate(&params(&base()), &third).unwrap();
    assert_eq!(
        next_step(&req, &third, Some(&s), None, None, 1010, Acr::Pwd).unwrap(),
        Next::Consent
    );
    let granted = Scope::parse("openid email profile").unwrap();
    assert_eq!(
        next_step(&req, &third, Some(&s), Some(&granted), None, 1010, Acr::Pwd).unwrap(),
        Next::IssueCode(&s)
    );
    let narrower = Scope::parse("openid").unwrap();
    assert_eq!(
        next_step(
            &req,
            &third,
            Some(&s),
            Some(&narrower),
            None,
            1010,
            Acr::Pwd
        )
        .unwrap(),
        Next::Consent
    );
}

#[test]
fn error_redirects_carry_state_and_iss() {
    let e = Error::new(ErrorCode::LoginRequired, "not logged in");
    let url = error_redirect(
        "https://app.example.com/cb?x=1",
        Some("s t"),
        &e,
        "https://id.example.com",
    );
    assert_eq!(
        url,
        "https://app.example.com/cb?x=1&error=login_required&error_description=not+logged+in&state=s+t&iss=https%3A%2F%2Fid.example.com"
    );
}

#[test]
fn a_session_below_the_level_asked_steps_up_and_prompt_none_cannot() {
    let c = client(true, false);
    let pwd = SessionState {
        auth_time: 1000,
        acr: Acr::Pwd,
    };
    let mfa = SessionState {
        auth_time: 1000,
        acr: Acr::Mfa,
    };
    let mut req = validate(&params(&base()), &c).unwrap();
    assert_eq!(req.acr, None);
    assert_eq!(
        next_step(&req, &c, Some(&pwd), None, None, 1010, Acr::Mfa).unwrap(),
        Next::StepUp,
        "the server's floor"
    );
    req.acr = Some(Acr::Mfa);
    assert_eq!(
        next_step(&req, &c, Some(&pwd), None, None, 1010, Acr::Pwd).unwrap(),
        Next::StepUp
    );
    assert_eq!(
        next_step(&req, &c, Some(&mfa), None, None, 1010, Acr::Pwd).unwrap(),
        Next::IssueCode(&mfa)
    );
    req.acr = Some(Acr::Phr);
    assert_eq!(
        next_step(&req, &c, Some(&mfa), None, None, 1010, Acr::Pwd).unwrap(),
        Next::StepUp,
        "a code is not phishing-resistant"
    );
    req.prompt.none = true;
    let err = next_step(&req, &c, Some(&mfa), None, None, 1010, Acr::Pwd).unwrap_err();
    assert_eq!(err.code, ErrorCode::LoginRequired);
    let mut strict = client(true, false);
    strict.require_mfa = true;
    let req = validate(&params(&base()), &strict).unwrap();
    assert_eq!(
        next_step(&req, &strict, Some(&pwd), None, None, 1010, Acr::Pwd).unwrap(),
        Next::StepUp,
        "the client's policy"
    );
}

#[test]
fn the_level_asked_comes_from_acr_values_or_an_essential_acr_claim() {
    let c = client(true, false);
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut p = base();
        p.extend_from_slice(extra);
        validate(&params(&p), &c).unwrap().acr
    };
    assert_eq!(
        with(&[("acr_values", "phr mfa")]),
        Some(Acr::Mfa),
        "the lowest named"
    );
    assert_eq!(with(&[("acr_values", "urn:unknown")]), None);
    let essential = r#"{"id_token":{"acr":{"essential":true,"value":"phr"}}}"#;
    assert_eq!(with(&[("claims", essential)]), Some(Acr::Phr));
    let voluntary = r#"{"id_token":{"acr":{"values":["phr"]}}}"#;
    assert_eq!(with(&[("claims", voluntary)]), None);
    assert_eq!(
        with(&[("acr_values", "pwd"), ("claims", essential)]),
        Some(Acr::Phr),
        "the higher of the two"
    );
}
