//! The FAPI 2.0 Security Profile's registration rules: a client registered
//! under `fapi2` cannot be given settings that break the profile, and each
//! refusal names the rule it breaks — through `clients::register` (what the
//! CLI, the admin API and dynamic registration share) and through the CLI.

use portcullis::keys::SigningAlg;
use portcullis::oauth::clients::RegistrationError;
use portcullis::oauth::clients::{self, profile, AuthMethod, GrantType, NewClient, Profile};
use portcullis::store::StoreError;

use crate::helpers::{spawn_app, TestApp};

/// A registration the profile accepts: confidential (private_key_jwt by
/// default under the profile), the code grant, an https redirect URI, ES256.
fn fapi_client() -> NewClient {
    NewClient {
        client_id: "bank".into(),
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        redirect_uris: vec!["https://bank.example/cb".into()],
        signing_alg: SigningAlg::Es256,
        profile: Some(Profile::Fapi2),
        // A P-256 public key (RFC 7515 Appendix A.3's).
        jwks: Some(serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]})),
        ..NewClient::default()
    }
}

#[test]
fn the_base_registration_keeps_every_rule() {
    // Each refusal below changes one thing of this: it must pass as it is,
    // or the refusals would prove nothing.
    let mut new = fapi_client();
    profile::apply_defaults(&mut new);
    assert_eq!(new.auth_method, Some(AuthMethod::PrivateKeyJwt));
    assert!(new.require_par && new.require_dpop);
    profile::check(&new).expect("a client the profile accepts");
}

/// Registers `new` and returns the message of its refusal.
async fn refusal(app: &TestApp, new: NewClient) -> String {
    let now = app.now();
    let result = app
        .ctx
        .db
        .write(move |conn| {
            Ok::<_, StoreError>(
                clients::register(conn, new, Default::default(), "test", now).map(|r| r.client),
            )
        })
        .await
        .unwrap();
    match result {
        Err(RegistrationError::Invalid(message)) => message,
        Err(other) => panic!("refused for another reason: {other:?}"),
        Ok(client) => panic!("registered {}", client.client_id),
    }
}

fn assert_names(message: &str, rule: &str) {
    assert!(message.starts_with("FAPI 2.0: "), "{message}");
    assert!(message.contains(rule), "names {rule}: {message}");
}

#[tokio::test]
async fn a_fapi_client_must_authenticate_with_private_key_jwt() {
    let app = spawn_app().await;
    let message = refusal(
        &app,
        NewClient {
            auth_method: Some(AuthMethod::ClientSecretBasic),
            ..fapi_client()
        },
    )
    .await;
    assert_names(&message, "private_key_jwt");
    let message = refusal(
        &app,
        NewClient {
            public: true,
            ..fapi_client()
        },
    )
    .await;
    assert_names(&message, "confidential");
}

#[tokio::test]
async fn a_fapi_client_cannot_sign_with_rs256() {
    let app = spawn_app().await;
    let message = refusal(
        &app,
        NewClient {
            signing_alg: SigningAlg::Rs256,
            ..fapi_client()
        },
    )
    .await;
    assert_names(&message, "RS256");
}

#[tokio::test]
async fn a_fapi_client_needs_https_redirect_uris() {
    let app = spawn_app().await;
    let message = refusal(
        &app,
        NewClient {
            redirect_uris: vec![
                "https://bank.example/cb".into(),
                "http://127.0.0.1:9/callback".into(),
            ],
            ..fapi_client()
        },
    )
    .await;
    assert_names(&message, "https");
    assert!(message.contains("http://127.0.0.1:9/callback"), "{message}");
}

#[tokio::test]
async fn a_fapi_client_cannot_use_the_password_grant() {
    let app = spawn_app().await;
    let message = refusal(
        &app,
        NewClient {
            grant_types: vec![GrantType::AuthorizationCode, GrantType::Password],
            ..fapi_client()
        },
    )
    .await;
    assert_names(&message, "password grant");
}

#[tokio::test]
async fn a_user_facing_fapi_client_cannot_also_use_client_credentials() {
    let app = spawn_app().await;
    for grants in [
        vec![GrantType::AuthorizationCode, GrantType::ClientCredentials],
        vec![GrantType::DeviceCode, GrantType::ClientCredentials],
    ] {
        let message = refusal(
            &app,
            NewClient {
                grant_types: grants.clone(),
                ..fapi_client()
            },
        )
        .await;
        assert_names(&message, "client_credentials");
    }
}

#[tokio::test]
async fn the_cli_refuses_a_fapi_client_in_one_line_naming_the_rule() {
    let app = spawn_app().await;
    let out = app.cli(
        &[
            "client",
            "add",
            "bank",
            "--profile",
            "fapi2",
            "--signing-alg",
            "RS256",
            "--redirect-uri",
            "https://bank.example/cb",
        ],
        None,
    );
    assert!(
        !out.status.success(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains("FAPI 2.0: "), "{err}");
    assert!(err.contains("RS256"), "{err}");
    let listed = app.cli(&["client", "list", "--json"], None);
    assert!(!String::from_utf8_lossy(&listed.stdout).contains("bank"));
}
