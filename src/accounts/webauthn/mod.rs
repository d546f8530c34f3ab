//! WebAuthn (passkey) ceremonies: a thin, typed wrapper over `webauthn_rp`
//! so that the rest of the server handles only bytes (to store) and JSON
//! (to and from the browser). No HTTP, no database here.
//!
//! What `webauthn_rp` checks: the challenge, the origin (the issuer's
//! origin exactly), the rp id hash, the UP and UV flags (UV is required in
//! every ceremony), the ceremony's own 5-minute timeout, the credential
//! type, canonical CBOR, the attestation ("none" or self), the signature,
//! the credential id and user handle against the stored credential, a
//! signature counter that does not grow when it was non-zero, and backup
//! eligibility that changes. What the caller checks: that a new credential
//! id is not registered already, the ceremony row's own expiry, and that it
//! stores [`Verified`] back after a sign-in.
//!
//! The state bytes are neither signed nor encrypted: they hold the
//! challenge and the expiry, so they must stay on the server (a database
//! row keyed by the ceremony), never in a cookie or form the client could
//! edit. Their expiry is a wall-clock time, so replicas need synchronised
//! clocks. User handles are exactly [`USER_HANDLE_LEN`] (64) bytes.

pub mod software;
#[cfg(test)]
mod tests;

use webauthn_rp::bin::{Decode, Encode};
use webauthn_rp::request::auth::{AllowedCredentials, AuthenticationVerificationOptions};
use webauthn_rp::request::register::{
    CredProtect, Nickname, PublicKeyCredentialUserEntity, RegistrationVerificationOptions,
    UserHandle64, Username, USER_HANDLE_MAX_LEN,
};
use webauthn_rp::request::{
    AsciiDomain, Credentials, DomainOrigin, ExtensionInfo, Port, PublicKeyCredentialDescriptor,
    RpId, Scheme, UserVerificationRequirement,
};
use webauthn_rp::response::register::{CompressedPubKey, DynamicState, StaticState};
use webauthn_rp::response::{AuthTransports, AuthenticatorAttachment, Backup, CredentialId};
use webauthn_rp::{
    AuthenticatedCredential, DiscoverableAuthentication64, DiscoverableAuthenticationServerState,
    DiscoverableCredentialRequestOptions, NonDiscoverableAuthentication64,
    NonDiscoverableAuthenticationServerState, NonDiscoverableCredentialRequestOptions,
    PublicKeyCredentialCreationOptions, Registration, RegistrationServerState,
};

/// The length of a user handle: WebAuthn's maximum, 64 random bytes.
pub const USER_HANDLE_LEN: usize = USER_HANDLE_MAX_LEN;

/// First byte of the state bytes: which ceremony they belong to.
const TAG_REGISTRATION: u8 = b'R';
const TAG_DISCOVERABLE: u8 = b'D';
const TAG_SECOND_FACTOR: u8 = b'S';

/// The public key as `webauthn_rp` reads it back from storage.
type StoredKey = CompressedPubKey<[u8; 32], [u8; 32], [u8; 48], Vec<u8>>;

/// Passkeys cannot be offered for this issuer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("passkeys are unavailable: {0}")]
pub struct Unavailable(pub String);

#[derive(Debug, thiserror::Error)]
pub enum WebauthnError {
    /// The browser's response (or stored bytes) cannot be parsed.
    #[error("malformed WebAuthn response: {0}")]
    Malformed(String),
    /// The state bytes are not a ceremony's state of the expected kind.
    #[error("invalid ceremony state: {0}")]
    State(String),
    /// The response answers another ceremony.
    #[error("the response answers another challenge")]
    ChallengeMismatch,
    /// The ceremony's timeout passed.
    #[error("the ceremony expired")]
    Expired,
    /// A check failed (origin, signature, flags, counter, user...).
    #[error("WebAuthn response rejected: {0}")]
    Rejected(String),
    /// The user or credential ids given by the caller are unusable.
    #[error("invalid input: {0}")]
    Invalid(String),
}

/// The user being registered.
pub struct PasskeyUser {
    /// Exactly [`USER_HANDLE_LEN`] random bytes, stable per user.
    pub handle: Vec<u8>,
    pub name: String,
    pub display_name: String,
}

/// What a successful registration stores.
#[derive(Debug, Clone)]
pub struct NewCredential {
    pub credential_id: Vec<u8>,
    pub user_handle: Vec<u8>,
    /// The credential's static state (public key and the extensions that
    /// matter later) as `webauthn_rp` encodes it.
    pub public_key: Vec<u8>,
    pub sign_count: u32,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub user_verified: bool,
}

/// A stored credential, as the caller loads it to verify an assertion.
#[derive(Debug, Clone)]
pub struct StoredCredential {
    pub credential_id: Vec<u8>,
    pub user_handle: Vec<u8>,
    pub public_key: Vec<u8>,
    pub sign_count: u32,
    pub backup_eligible: bool,
    pub backup_state: bool,
}

/// The ids in an assertion, read before it is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionIds {
    pub credential_id: Vec<u8>,
    pub user_handle: Option<Vec<u8>>,
}

/// What a verified assertion changes: store it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub sign_count: u32,
    pub backup_state: bool,
    pub user_verified: bool,
}

/// The relying party derived from the issuer URL.
#[derive(Debug, Clone)]
pub struct RelyingParty {
    rp_id: RpId,
    scheme: String,
    port: Option<u16>,
}

fn rejected(e: impl std::fmt::Display) -> WebauthnError {
    WebauthnError::Rejected(e.to_string())
}

fn state_err(e: impl std::fmt::Display) -> WebauthnError {
    WebauthnError::State(e.to_string())
}

fn user_handle(bytes: &[u8]) -> Result<UserHandle64, WebauthnError> {
    let array: [u8; USER_HANDLE_LEN] = bytes.try_into().map_err(|_| {
        WebauthnError::Invalid(format!("a user handle has {USER_HANDLE_LEN} bytes"))
    })?;
    UserHandle64::decode(array).map_err(|e| WebauthnError::Invalid(e.to_string()))
}

fn descriptor(id: &[u8]) -> Result<PublicKeyCredentialDescriptor<Vec<u8>>, WebauthnError> {
    let id = CredentialId::<Vec<u8>>::decode(id.to_vec())
        .map_err(|e| WebauthnError::Invalid(format!("credential id: {e}")))?;
    Ok(PublicKeyCredentialDescriptor {
        id,
        transports: AuthTransports::decode(0).map_err(|e| WebauthnError::Invalid(e.to_string()))?,
    })
}

fn with_tag(tag: u8, body: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 1);
    out.push(tag);
    out.extend_from_slice(&body);
    out
}

fn split_tag(state: &[u8]) -> Result<(u8, &[u8]), WebauthnError> {
    state
        .split_first()
        .map(|(t, b)| (*t, b))
        .ok_or_else(|| WebauthnError::State("empty".into()))
}

impl RelyingParty {
    /// rp id = the issuer's host, origin = the issuer's origin. An IP
    /// address, a URL without a host, or plain http to anything but
    /// localhost is `Unavailable`.
    pub fn from_issuer(issuer: &str) -> Result<Self, Unavailable> {
        let url = url::Url::parse(issuer)
            .map_err(|e| Unavailable(format!("the issuer {issuer} is not a URL: {e}")))?;
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_ascii_lowercase(),
            Some(url::Host::Ipv4(_)) | Some(url::Host::Ipv6(_)) => {
                return Err(Unavailable(format!(
                    "the issuer's host in {issuer} is an IP address; WebAuthn needs a domain name"
                )))
            }
            None => return Err(Unavailable(format!("the issuer {issuer} has no host"))),
        };
        let localhost = host == "localhost" || host.ends_with(".localhost");
        match url.scheme() {
            "https" => {}
            "http" if localhost => {}
            other => {
                return Err(Unavailable(format!(
                    "the issuer's scheme is {other}; browsers offer WebAuthn only over https (or http to localhost)"
                )))
            }
        }
        let domain = AsciiDomain::try_from(host)
            .map_err(|e| Unavailable(format!("the issuer's host is not a valid rp id: {e}")))?;
        Ok(Self {
            rp_id: RpId::Domain(domain),
            scheme: url.scheme().to_owned(),
            port: url.port(),
        })
    }

    pub fn rp_id(&self) -> &str {
        self.rp_id.as_ref()
    }

    /// The only origin accepted: the issuer's.
    fn origin(&self) -> DomainOrigin<'_, '_> {
        DomainOrigin {
            scheme: Scheme::Other(&self.scheme),
            host: self.rp_id.as_ref(),
            port: self.port.map_or(Port::None, Port::Val),
        }
    }

    /// Options for `PublicKeyCredential.parseCreationOptionsFromJSON()` and
    /// the state to store. residentKey and userVerification required,
    /// attestation none, credProtect "userVerificationRequired", and every
    /// algorithm the library verifies (Ed25519, ES256, ES384, RS256).
    pub fn start_registration(
        &self,
        user: &PasskeyUser,
        exclude: &[Vec<u8>],
    ) -> Result<(serde_json::Value, Vec<u8>), WebauthnError> {
        let handle = user_handle(&user.handle)?;
        let name = Username::try_from(user.name.as_str())
            .map_err(|e| WebauthnError::Invalid(format!("user name: {e}")))?;
        let display_name = if user.display_name.is_empty() {
            None
        } else {
            Some(
                Nickname::try_from(user.display_name.as_str())
                    .map_err(|e| WebauthnError::Invalid(format!("display name: {e}")))?,
            )
        };
        let exclude = exclude
            .iter()
            .map(|id| descriptor(id))
            .collect::<Result<Vec<_>, _>>()?;
        let entity = PublicKeyCredentialUserEntity {
            name,
            id: &handle,
            display_name,
        };
        let mut options = PublicKeyCredentialCreationOptions::passkey(&self.rp_id, entity, exclude);
        // credProtect is asked for but not enforced: enforcing it makes
        // Chromium refuse every authenticator without the extension
        // (NotAllowedError), which many platform authenticators are; every
        // assertion requires user verification anyway.
        options.extensions.cred_protect =
            CredProtect::UserVerificationRequired(ExtensionInfo::AllowDontEnforceValue);
        let (server, client) = options.start_ceremony().map_err(state_err)?;
        let json = serde_json::to_value(&client).map_err(state_err)?;
        let state = server.encode().map_err(state_err)?;
        Ok((json, with_tag(TAG_REGISTRATION, state)))
    }

    /// `response` is the browser's `credential.toJSON()`.
    pub fn finish_registration(
        &self,
        state: &[u8],
        response: &str,
    ) -> Result<NewCredential, WebauthnError> {
        let (tag, body) = split_tag(state)?;
        if tag != TAG_REGISTRATION {
            return Err(WebauthnError::State("not a registration".into()));
        }
        let server = RegistrationServerState::<USER_HANDLE_LEN>::decode(body).map_err(state_err)?;
        let registration: Registration =
            serde_json::from_str(response).map_err(|e| WebauthnError::Malformed(e.to_string()))?;
        let origins = [self.origin()];
        let options = RegistrationVerificationOptions::<DomainOrigin<'_, '_>, DomainOrigin<'_, '_>> {
            allowed_origins: &origins,
            ..RegistrationVerificationOptions::default()
        };
        let credential = server
            .verify(&self.rp_id, &registration, &options)
            .map_err(|e| {
                use webauthn_rp::response::register::error::RegCeremonyErr as E;
                match e {
                    E::ChallengeMismatch => WebauthnError::ChallengeMismatch,
                    E::Timeout => WebauthnError::Expired,
                    other => rejected(other),
                }
            })?;
        let (id, _transports, user_id, static_state, dynamic, _metadata) = credential.into_parts();
        let public_key = static_state.encode().map_err(state_err)?;
        let (backup_eligible, backup_state) = backup_flags(dynamic.backup);
        Ok(NewCredential {
            credential_id: id.into_inner().to_vec(),
            user_handle: user_id.as_ref().to_vec(),
            public_key,
            sign_count: dynamic.sign_count,
            backup_eligible,
            backup_state,
            user_verified: dynamic.user_verified,
        })
    }

    /// "Sign in with a passkey": no allowCredentials, UV required.
    pub fn start_discoverable(&self) -> Result<(serde_json::Value, Vec<u8>), WebauthnError> {
        let (server, client) = DiscoverableCredentialRequestOptions::passkey(&self.rp_id)
            .start_ceremony()
            .map_err(state_err)?;
        let json = serde_json::to_value(&client).map_err(state_err)?;
        let state = server.encode().map_err(state_err)?;
        Ok((json, with_tag(TAG_DISCOVERABLE, state)))
    }

    /// A known user's passkeys as a second factor. userVerification is
    /// required here too: the passkeys were made with credProtect
    /// "userVerificationRequired", so an authenticator will not use them
    /// without UV anyway, and the stored credential says UV was done.
    pub fn start_second_factor(
        &self,
        credentials: &[Vec<u8>],
    ) -> Result<(serde_json::Value, Vec<u8>), WebauthnError> {
        let mut allow = AllowedCredentials::with_capacity(credentials.len());
        for id in credentials {
            allow.push(descriptor(id)?.into());
        }
        let mut options =
            NonDiscoverableCredentialRequestOptions::second_factor(&self.rp_id, allow)
                .map_err(|_| WebauthnError::Invalid("the user has no passkey".into()))?;
        options.options().user_verification = UserVerificationRequirement::Required;
        let (server, client) = options.start_ceremony().map_err(state_err)?;
        let json = serde_json::to_value(&client).map_err(state_err)?;
        let state = server.encode().map_err(state_err)?;
        Ok((json, with_tag(TAG_SECOND_FACTOR, state)))
    }

    /// The credential id and user handle of an assertion, unverified.
    pub fn assertion_ids(response: &str) -> Result<AssertionIds, WebauthnError> {
        let auth: NonDiscoverableAuthentication64 =
            serde_json::from_str(response).map_err(|e| WebauthnError::Malformed(e.to_string()))?;
        Ok(AssertionIds {
            credential_id: auth.raw_id().into_inner().to_vec(),
            user_handle: auth.response().user_handle().map(|h| h.as_ref().to_vec()),
        })
    }

    /// Verifies an assertion against the state and the stored credential.
    pub fn finish_authentication(
        &self,
        state: &[u8],
        response: &str,
        stored: &StoredCredential,
    ) -> Result<Verified, WebauthnError> {
        let (tag, body) = split_tag(state)?;
        let static_state = StaticState::<StoredKey>::decode(stored.public_key.as_slice())
            .map_err(|e| WebauthnError::Invalid(format!("stored public key: {e}")))?;
        let user = user_handle(&stored.user_handle)?;
        let id = CredentialId::<&[u8]>::decode(stored.credential_id.as_slice())
            .map_err(|e| WebauthnError::Invalid(format!("stored credential id: {e}")))?;
        let backup = match (stored.backup_eligible, stored.backup_state) {
            (false, false) => Backup::NotEligible,
            (true, false) => Backup::Eligible,
            (true, true) => Backup::Exists,
            (false, true) => {
                return Err(WebauthnError::Invalid(
                    "stored backup state without backup eligibility".into(),
                ))
            }
        };
        let dynamic = DynamicState {
            // Registration required UV.
            user_verified: true,
            backup,
            sign_count: stored.sign_count,
            authenticator_attachment: AuthenticatorAttachment::None,
        };
        let mut credential = AuthenticatedCredential::new(id, &user, static_state, dynamic)
            .map_err(|e| WebauthnError::Invalid(e.to_string()))?;
        let origins = [self.origin()];
        let options =
            AuthenticationVerificationOptions::<DomainOrigin<'_, '_>, DomainOrigin<'_, '_>> {
                allowed_origins: &origins,
                ..AuthenticationVerificationOptions::default()
            };
        let malformed = |e: serde_json::Error| WebauthnError::Malformed(e.to_string());
        let (result, authenticator_data_flags) = match tag {
            TAG_DISCOVERABLE => {
                let server =
                    DiscoverableAuthenticationServerState::decode(body).map_err(state_err)?;
                let auth: DiscoverableAuthentication64 =
                    serde_json::from_str(response).map_err(malformed)?;
                let flags = flags_byte(auth.response().authenticator_data());
                (
                    server.verify(&self.rp_id, &auth, &mut credential, &options),
                    flags,
                )
            }
            TAG_SECOND_FACTOR => {
                let server =
                    NonDiscoverableAuthenticationServerState::decode(body).map_err(state_err)?;
                let auth: NonDiscoverableAuthentication64 =
                    serde_json::from_str(response).map_err(malformed)?;
                let flags = flags_byte(auth.response().authenticator_data());
                (
                    server.verify(&self.rp_id, &auth, &mut credential, &options),
                    flags,
                )
            }
            _ => return Err(WebauthnError::State("not an authentication".into())),
        };
        result.map_err(|e| {
            use webauthn_rp::response::auth::error::AuthCeremonyErr as E;
            match e {
                E::ChallengeMismatch => WebauthnError::ChallengeMismatch,
                E::Timeout => WebauthnError::Expired,
                other => rejected(other),
            }
        })?;
        let dynamic = credential.dynamic_state();
        Ok(Verified {
            sign_count: dynamic.sign_count,
            backup_state: matches!(dynamic.backup, Backup::Exists),
            user_verified: authenticator_data_flags & 0x04 != 0,
        })
    }
}

/// The flags byte of authenticator data (after the 32-byte rp id hash).
fn flags_byte(authenticator_data: &[u8]) -> u8 {
    authenticator_data.get(32).copied().unwrap_or(0)
}

fn backup_flags(backup: Backup) -> (bool, bool) {
    match backup {
        Backup::NotEligible => (false, false),
        Backup::Eligible => (true, false),
        Backup::Exists => (true, true),
    }
}
