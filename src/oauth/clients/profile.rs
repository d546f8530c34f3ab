//! The FAPI 2.0 Security Profile (final, "private key + DPoP" variant) as
//! registration rules: a client registered under it cannot be given
//! settings that break the profile, and gets the ones it implies.
//! What the profile asks of each request is checked where the request is
//! handled (PAR only, PKCE, DPoP, assertion `aud`, code lifetime); this
//! file is the registration half.

use super::registration::{NewClient, RegistrationError};
use super::{AuthMethod, GrantType, Profile};
use crate::keys::SigningAlg;

/// The signing algorithm a registration under `profile` gets when it
/// names none.
pub fn default_signing_alg(profile: Option<Profile>) -> SigningAlg {
    match profile {
        Some(Profile::Fapi2) => SigningAlg::Ps256,
        None => NewClient::DEFAULT_SIGNING_ALG,
    }
}

/// What the profile implies: pushed requests and DPoP-bound tokens.
pub fn apply_defaults(new: &mut NewClient) {
    if new.profile == Some(Profile::Fapi2) {
        new.require_par = true;
        new.require_dpop = true;
        if new.auth_method.is_none() && !new.public {
            new.auth_method = Some(AuthMethod::PrivateKeyJwt);
        }
    }
}

/// Refuses what breaks the profile, naming the rule (FAPI 2.0 Security
/// Profile §5.3 and §5.4).
pub fn check(new: &NewClient) -> Result<(), RegistrationError> {
    if new.profile != Some(Profile::Fapi2) {
        return Ok(());
    }
    let refuse = |rule: &str| Err(RegistrationError::Invalid(format!("FAPI 2.0: {rule}")));
    if new.public || new.effective_auth_method() != AuthMethod::PrivateKeyJwt {
        return refuse(
            "a client must be confidential and authenticate with private_key_jwt (§5.3.1.1)",
        );
    }
    if !new.require_par {
        return refuse("authorization requests must be pushed (PAR, §5.3.1.2)");
    }
    if !new.require_dpop {
        return refuse("access tokens must be sender-constrained with DPoP (§5.3.1.1)");
    }
    if new.signing_alg == SigningAlg::Rs256 {
        return refuse("tokens must be signed with PS256, ES256 or EdDSA, not RS256 (§5.4.1)");
    }
    if let Some(uri) = new
        .redirect_uris
        .iter()
        .find(|u| !u.starts_with("https://"))
    {
        return refuse(&format!(
            "redirect URIs must use https (§5.3.1.2), not {uri}"
        ));
    }
    if new.grant_types.contains(&GrantType::Password) {
        return refuse("the password grant is not allowed (§5.3.1, RFC 9700 §2.4)");
    }
    let user_facing = new.grant_types.contains(&GrantType::AuthorizationCode)
        || new.grant_types.contains(&GrantType::DeviceCode);
    if user_facing && new.grant_types.contains(&GrantType::ClientCredentials) {
        return refuse(
            "a user-facing client cannot also use client_credentials: register a separate client",
        );
    }
    Ok(())
}
