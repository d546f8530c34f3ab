use super::software::{SoftwareAuthenticator, FLAG_BE, FLAG_BS, FLAG_UP, FLAG_UV};
use super::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde_json::Value;

const ORIGIN: &str = "https://id.example.com";

fn rp() -> RelyingParty {
    RelyingParty::from_issuer(ORIGIN).unwrap()
}

fn user(byte: u8) -> PasskeyUser {
    PasskeyUser {
        handle: vec![byte; USER_HANDLE_LEN],
        name: format!("user{byte}"),
        display_name: format!("User {byte}"),
    }
}

fn stored(c: &NewCredential) -> StoredCredential {
    StoredCredential {
        credential_id: c.credential_id.clone(),
        user_handle: c.user_handle.clone(),
        public_key: c.public_key.clone(),
        sign_count: c.sign_count,
        backup_eligible: c.backup_eligible,
        backup_state: c.backup_state,
    }
}

fn register(rp: &RelyingParty, auth: &mut SoftwareAuthenticator, u: &PasskeyUser) -> NewCredential {
    let (options, state) = rp.start_registration(u, &[]).unwrap();
    let response = auth.register(&options, ORIGIN).unwrap();
    rp.finish_registration(&state, &response).unwrap()
}

/// Rewrites one base64url member of `response` with `f`.
fn edit_b64(response: &str, member: &str, f: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut v: Value = serde_json::from_str(response).unwrap();
    let slot = &mut v["response"][member];
    let mut bytes = B64.decode(slot.as_str().unwrap()).unwrap();
    f(&mut bytes);
    *slot = Value::String(B64.encode(&bytes));
    v.to_string()
}

#[test]
fn rp_id_from_issuer() {
    assert_eq!(
        RelyingParty::from_issuer("http://localhost:8080")
            .unwrap()
            .rp_id(),
        "localhost"
    );
    assert_eq!(
        RelyingParty::from_issuer("https://id.example.com")
            .unwrap()
            .rp_id(),
        "id.example.com"
    );
    assert_eq!(
        RelyingParty::from_issuer("https://ID.Example.com:8443/tenant")
            .unwrap()
            .rp_id(),
        "id.example.com"
    );
    for bad in [
        "http://127.0.0.1:8080",
        "http://[::1]:8080",
        "https://10.0.0.1",
        "http://id.example.com",
        "unix:/run/portcullis.sock",
        "not a url",
    ] {
        let e = RelyingParty::from_issuer(bad).unwrap_err();
        assert!(!e.0.is_empty(), "{bad}");
    }
}

#[test]
fn creation_options_are_browser_json() {
    let rp = rp();
    let u = user(1);
    let exclude = vec![vec![9u8; 32]];
    let (o, state) = rp.start_registration(&u, &exclude).unwrap();
    assert_eq!(o["rp"]["id"], "id.example.com");
    assert_eq!(
        B64.decode(o["user"]["id"].as_str().unwrap()).unwrap(),
        u.handle
    );
    assert_eq!(o["user"]["name"], "user1");
    assert_eq!(o["user"]["displayName"], "User 1");
    assert_eq!(
        B64.decode(o["challenge"].as_str().unwrap()).unwrap().len(),
        16
    );
    assert_eq!(o["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(o["authenticatorSelection"]["userVerification"], "required");
    assert_eq!(o["timeout"], 300_000);
    let algs: Vec<i64> = o["pubKeyCredParams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["alg"].as_i64().unwrap())
        .collect();
    assert!(algs.contains(&-7));
    assert_eq!(
        B64.decode(o["excludeCredentials"][0]["id"].as_str().unwrap())
            .unwrap(),
        exclude[0]
    );
    assert!(o.get("attestation").is_none_or(|a| a == "none"));
    assert!(!state.is_empty());
}

#[test]
fn register_then_discoverable_sign_in() {
    let rp = rp();
    let mut auth = SoftwareAuthenticator::new();
    let u = user(1);
    let c = register(&rp, &mut auth, &u);
    assert_eq!(c.user_handle, u.handle);
    assert_eq!(c.credential_id.len(), 32);
    assert!(c.user_verified);
    assert!(!c.backup_eligible && !c.backup_state);
    assert_eq!(c.sign_count, 0);

    let (options, state) = rp.start_discoverable().unwrap();
    assert!(options
        .get("allowCredentials")
        .is_none_or(|a| a.as_array().is_some_and(Vec::is_empty)));
    assert_eq!(options["userVerification"], "required");
    let response = auth.assert(&options, ORIGIN).unwrap();
    let ids = RelyingParty::assertion_ids(&response).unwrap();
    assert_eq!(ids.credential_id, c.credential_id);
    assert_eq!(ids.user_handle.as_deref(), Some(u.handle.as_slice()));
    let v = rp
        .finish_authentication(&state, &response, &stored(&c))
        .unwrap();
    assert_eq!(
        v,
        Verified {
            sign_count: 1,
            backup_state: false,
            user_verified: true
        }
    );
}

#[test]
fn second_factor_round_trip() {
    let rp = rp();
    let mut auth = SoftwareAuthenticator::new();
    let other = register(&rp, &mut auth, &user(2));
    let c = register(&rp, &mut auth, &user(1));
    let (options, state) = rp
        .start_second_factor(std::slice::from_ref(&c.credential_id))
        .unwrap();
    assert_eq!(options["userVerification"], "required");
    assert_eq!(
        B64.decode(options["allowCredentials"][0]["id"].as_str().unwrap())
            .unwrap(),
        c.credential_id
    );
    let response = auth.assert(&options, ORIGIN).unwrap();
    assert_eq!(
        RelyingParty::assertion_ids(&response)
            .unwrap()
            .credential_id,
        c.credential_id
    );
    let v = rp
        .finish_authentication(&state, &response, &stored(&c))
        .unwrap();
    assert_eq!(v.sign_count, 1);
    assert!(v.user_verified);
    // The other user's credential is not in allowCredentials.
    let (options, state) = rp
        .start_second_factor(std::slice::from_ref(&c.credential_id))
        .unwrap();
    let response = auth.assert(&options, ORIGIN).unwrap();
    assert!(rp
        .finish_authentication(&state, &response, &stored(&other))
        .is_err());
    assert!(rp.start_second_factor(&[]).is_err());
}

#[test]
fn localhost_with_port() {
    let rp = RelyingParty::from_issuer("http://localhost:8080").unwrap();
    let mut auth = SoftwareAuthenticator::new();
    let (options, state) = rp.start_registration(&user(1), &[]).unwrap();
    let response = auth.register(&options, "http://localhost:8080").unwrap();
    let c = rp.finish_registration(&state, &response).unwrap();
    let (options, state) = rp.start_discoverable().unwrap();
    // The port is part of the origin.
    let wrong = auth.assert(&options, "http://localhost:8081").unwrap();
    assert!(rp
        .finish_authentication(&state, &wrong, &stored(&c))
        .is_err());
    let (options, state) = rp.start_discoverable().unwrap();
    let response = auth.assert(&options, "http://localhost:8080").unwrap();
    rp.finish_authentication(&state, &response, &stored(&c))
        .unwrap();
}

#[test]
fn response_to_another_challenge_is_refused() {
    let rp = rp();
    let mut auth = SoftwareAuthenticator::new();
    let u = user(1);
    let (_, first_state) = rp.start_registration(&u, &[]).unwrap();
    let (options, _) = rp.start_registration(&u, &[]).unwrap();
    let response = auth.register(&options, ORIGIN).unwrap();
    assert!(matches!(
        rp.finish_registration(&first_state, &response),
        Err(WebauthnError::ChallengeMismatch)
    ));

    let mut auth = SoftwareAuthenticator::new();
    let c = register(&rp, &mut auth, &u);
    let (_, first_state) = rp.start_discoverable().unwrap();
    let (options, _) = rp.start_discoverable().unwrap();
    let response = auth.assert(&options, ORIGIN).unwrap();
    let e = rp.finish_authentication(&first_state, &response, &stored(&c));
    assert!(matches!(e, Err(WebauthnError::ChallengeMismatch)), "{e:?}");
    // A registration state cannot finish a sign-in, and back.
    let (_, reg_state) = rp.start_registration(&u, &[]).unwrap();
    assert!(matches!(
        rp.finish_authentication(&reg_state, &response, &stored(&c)),
        Err(WebauthnError::State(_))
    ));
}

#[test]
fn wrong_origin_is_refused() {
    let rp = rp();
    let mut auth = SoftwareAuthenticator::new();
    let (options, state) = rp.start_registration(&user(1), &[]).unwrap();
    let response = auth.register(&options, "https://evil.example.com").unwrap();
    assert!(matches!(
        rp.finish_registration(&state, &response),
        Err(WebauthnError::Rejected(_))
    ));
    let c = register(&rp, &mut auth, &user(1));
    for origin in [
        "https://evil.example.com",
        "http://id.example.com",
        "https://id.example.com:8443",
    ] {
        let (options, state) = rp.start_discoverable().unwrap();
        let response = auth.assert(&options, origin).unwrap();
        assert!(
            matches!(
                rp.finish_authentication(&state, &response, &stored(&c)),
                Err(WebauthnError::Rejected(_))
            ),
            "{origin}"
        );
    }
}

#[test]
fn another_rp_id_is_refused() {
    let rp = rp();
    let mut auth = SoftwareAuthenticator::new();
    let c = register(&rp, &mut auth, &user(1));
    // A credential of example.com used at id.example.com: the rp id hash differs.
    let (mut options, state) = rp.start_discoverable().unwrap();
    auth.credentials[0].rp_id = "example.com".into();
    options["rpId"] = "example.com".into();
    let response = auth.assert(&options, ORIGIN).unwrap();
    assert!(rp
        .finish_authentication(&state, &response, &stored(&c))
        .is_err());
}

#[test]
fn tampered_signature_is_refused() {
    let rp = rp();
    let mut auth = SoftwareAuthenticator::new();
    let c = register(&rp, &mut auth, &user(1));
    let (options, state) = rp.start_discoverable().unwrap();
    let response = auth.assert(&options, ORIGIN).unwrap();
    // Flip one bit of the signed authenticator data (the counter).
    let tampered = edit_b64(&response, "authenticatorData", |b| b[36] ^= 0x01);
    assert!(matches!(
        rp.finish_authentication(&state, &tampered, &stored(&c)),
        Err(WebauthnError::Rejected(_))
    ));
    // Or sign with another key.
    let (options, state) = rp.start_discoverable().unwrap();
    auth.credentials[0].key = p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
    let response = auth.assert(&options, ORIGIN).unwrap();
    assert!(matches!(
        rp.finish_authentication(&state, &response, &stored(&c)),
        Err(WebauthnError::Rejected(_))
    ));
}

#[test]
fn another_users_credential_is_refused() {
    let rp = rp();
    let mut auth = SoftwareAuthenticator::new();
    let alice = register(&rp, &mut auth, &user(1));
    // The response claims Alice's credential but Bob's user handle.
    let (options, state) = rp.start_discoverable().unwrap();
    auth.credentials[0].user_handle = vec![2; USER_HANDLE_LEN];
    let response = auth.assert(&options, ORIGIN).unwrap();
    assert!(matches!(
        rp.finish_authentication(&state, &response, &stored(&alice)),
        Err(WebauthnError::Rejected(_))
    ));
    // A stored credential under another user handle.
    auth.credentials[0].user_handle = alice.user_handle.clone();
    let (options, state) = rp.start_discoverable().unwrap();
    let response = auth.assert(&options, ORIGIN).unwrap();
    let mut wrong = stored(&alice);
    wrong.user_handle = vec![2; USER_HANDLE_LEN];
    assert!(rp.finish_authentication(&state, &response, &wrong).is_err());
    // Bob's stored credential for Alice's assertion.
    let bob = register(&rp, &mut SoftwareAuthenticator::new(), &user(2));
    let (options, state) = rp.start_discoverable().unwrap();
    let response = auth.assert(&options, ORIGIN).unwrap();
    assert!(rp
        .finish_authentication(&state, &response, &stored(&bob))
        .is_err());
}

#[test]
fn registration_without_user_verification_is_refused() {
    let rp = rp();
    let mut auth = SoftwareAuthenticator::new();
    auth.flags = FLAG_UP;
    let (options, state) = rp.start_registration(&user(1), &[]).unwrap();
    let response = auth.register(&options, ORIGIN).unwrap();
    assert!(matches!(
        rp.finish_registration(&state, &response),
        Err(WebauthnError::Rejected(_))
    ));
}

#[test]
fn assertion_without_user_verification_is_refused() {
    let rp = rp();
    let mut auth = SoftwareAuthenticator::new();
    let c = register(&rp, &mut auth, &user(1));
    auth.flags = FLAG_UP;
    let (options, state) = rp
        .start_second_factor(std::slice::from_ref(&c.credential_id))
        .unwrap();
    let response = auth.assert(&options, ORIGIN).unwrap();
    assert!(rp
        .finish_authentication(&state, &response, &stored(&c))
        .is_err());
}

#[test]
fn counter_going_backwards_is_refused() {
    let rp = rp();
    let mut auth = SoftwareAuthenticator::new();
    let c = register(&rp, &mut auth, &user(1));
    let mut s = stored(&c);
    s.sign_count = 5;
    // The authenticator says 1 after the server saw 5: a clone.
    let (options, state) = rp.start_discoverable().unwrap();
    let response = auth.assert(&options, ORIGIN).unwrap();
    assert!(matches!(
        rp.finish_authentication(&state, &response, &s),
        Err(WebauthnError::Rejected(_))
    ));
    // Equal is refused too when non-zero.
    auth.credentials[0].counter = 4;
    let (options, state) = rp.start_discoverable().unwrap();
    let response = auth.assert(&options, ORIGIN).unwrap();
    assert!(rp.finish_authentication(&state, &response, &s).is_err());
    // Growing is fine.
    let (options, state) = rp.start_discoverable().unwrap();
    let response = auth.assert(&options, ORIGIN).unwrap();
    assert_eq!(
        rp.finish_authentication(&state, &response, &s)
            .unwrap()
            .sign_count,
        6
    );
    // An authenticator without a counter (always 0) is accepted.
    let mut no_counter = SoftwareAuthenticator::new();
    no_counter.counter_step = 0;
    let c = register(&rp, &mut no_counter, &user(3));
    for _ in 0..2 {
        let (options, state) = rp.start_discoverable().unwrap();
        let response = no_counter.assert(&options, ORIGIN).unwrap();
        assert_eq!(
            rp.finish_authentication(&state, &response, &stored(&c))
                .unwrap()
                .sign_count,
            0
        );
    }
}

#[test]
fn backup_flags() {
    let rp = rp();
    let mut auth = SoftwareAuthenticator::new();
    auth.flags = FLAG_UP | FLAG_UV | FLAG_BE;
    let c = register(&rp, &mut auth, &user(1));
    assert!(c.backup_eligible && !c.backup_state);
    // The passkey got synced: BS may change.
    auth.flags |= FLAG_BS;
    let (options, state) = rp.start_discoverable().unwrap();
    let response = auth.assert(&options, ORIGIN).unwrap();
    assert!(
        rp.finish_authentication(&state, &response, &stored(&c))
            .unwrap()
            .backup_state
    );
    // BE may not change.
    auth.flags = FLAG_UP | FLAG_UV;
    let (options, state) = rp.start_discoverable().unwrap();
    let response = auth.assert(&options, ORIGIN).unwrap();
    assert!(rp
        .finish_authentication(&state, &response, &stored(&c))
        .is_err());
}

#[test]
fn excluded_credential_and_bad_inputs() {
    let rp = rp();
    let mut auth = SoftwareAuthenticator::new();
    let u = user(1);
    let c = register(&rp, &mut auth, &u);
    let (options, _) = rp
        .start_registration(&u, std::slice::from_ref(&c.credential_id))
        .unwrap();
    assert!(auth.register(&options, ORIGIN).is_err());
    let mut short = user(1);
    short.handle = vec![1; 16];
    assert!(matches!(
        rp.start_registration(&short, &[]),
        Err(WebauthnError::Invalid(_))
    ));
    assert!(matches!(
        rp.start_registration(&u, &[vec![1; 4]]),
        Err(WebauthnError::Invalid(_))
    ));
    let (_, state) = rp.start_registration(&u, &[]).unwrap();
    assert!(matches!(
        rp.finish_registration(&state, "{}"),
        Err(WebauthnError::Malformed(_))
    ));
    assert!(matches!(
        rp.finish_registration(&[], "{}"),
        Err(WebauthnError::State(_))
    ));
    assert!(matches!(
        RelyingParty::assertion_ids("nope"),
        Err(WebauthnError::Malformed(_))
    ));
    // A registration response cannot be registered twice (the state is per ceremony).
    let (options, state) = rp.start_registration(&user(2), &[]).unwrap();
    let response = auth.register(&options, ORIGIN).unwrap();
    let (_, other_state) = rp.start_registration(&user(2), &[]).unwrap();
    rp.finish_registration(&state, &response).unwrap();
    assert!(rp.finish_registration(&other_state, &response).is_err());
}

#[test]
fn state_bytes_cross_replicas() {
    // Replica A starts, replica B (a new RelyingParty, the bytes copied)
    // finishes.
    let mut auth = SoftwareAuthenticator::new();
    let (options, state) = rp().start_registration(&user(1), &[]).unwrap();
    let state: Vec<u8> = state.to_vec();
    let response = auth.register(&options, ORIGIN).unwrap();
    let c = rp().finish_registration(&state, &response).unwrap();
    for second_factor in [false, true] {
        let (options, state) = if second_factor {
            rp().start_second_factor(std::slice::from_ref(&c.credential_id))
                .unwrap()
        } else {
            rp().start_discoverable().unwrap()
        };
        let copy = state.clone();
        let response = auth.assert(&options, ORIGIN).unwrap();
        rp().finish_authentication(&copy, &response, &stored(&c))
            .unwrap();
    }
    // A truncated or altered state is refused.
    let (options, state) = rp().start_discoverable().unwrap();
    let response = auth.assert(&options, ORIGIN).unwrap();
    assert!(rp()
        .finish_authentication(&state[..state.len() - 1], &response, &stored(&c))
        .is_err());
    let mut other = state.clone();
    other[0] = b'S';
    assert!(rp()
        .finish_authentication(&other, &response, &stored(&c))
        .is_err());
}

#[test]
fn expired_ceremony_is_refused() {
    let rp = rp();
    let mut auth = SoftwareAuthenticator::new();
    let c = register(&rp, &mut auth, &user(1));
    let (options, mut state) = rp.start_discoverable().unwrap();
    // The discoverable state ends with its expiry (seconds and nanoseconds
    // since 1970): set it to 1970. This is also why state bytes belong in
    // the server's database, never in anything the client can edit.
    let len = state.len();
    state[len - 12..].fill(0);
    let response = auth.assert(&options, ORIGIN).unwrap();
    assert!(matches!(
        rp.finish_authentication(&state, &response, &stored(&c)),
        Err(WebauthnError::Expired)
    ));
}
