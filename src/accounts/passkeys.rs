//! Passkeys over the WebAuthn ceremonies of `webauthn.rs`: registering one
//! for a signed-in person, signing in with one (a discoverable credential,
//! no username typed), and using one as a second factor. A ceremony's state
//! is a `login_challenges` row found by the hash of a value the browser
//! holds, so any replica finishes what another began; it is taken once.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::amr::Amr;
use super::factors::PasskeySummary;
use super::webauthn::{
    PasskeyUser, RelyingParty, StoredCredential, WebauthnError, USER_HANDLE_LEN,
};
use crate::audit;
use crate::secrets;
use crate::store::login_challenges::{self as challenges, ChallengeRow};
use crate::store::second_factors::{self as rows, PasskeyRow};
use crate::store::users::{self, UserRow};
use crate::store::{Db, DbConnection, StoreError};

/// How long a ceremony may take (the browser's own timeout is 5 minutes too).
pub const CEREMONY_TTL: i64 = 300;
/// A passkey's name, as the person gives it.
pub const MAX_NAME_CHARS: usize = 64;

const REGISTER: &str = "passkey_register";
const SIGN_IN: &str = "passkey_login";

#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// The ceremony is unknown, expired, or finished already.
    #[error("this passkey request has expired; try again")]
    Expired,
    /// The browser's answer does not verify (tampered, another site's,
    /// another person's credential, an unknown credential).
    #[error("the passkey could not be verified: {0}")]
    Rejected(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<WebauthnError> for PasskeyError {
    fn from(e: WebauthnError) -> Self {
        match e {
            WebauthnError::Expired => PasskeyError::Expired,
            other => PasskeyError::Rejected(other.to_string()),
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Result<Vec<u8>, PasskeyError> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| PasskeyError::Rejected("a stored id is not base64url".into()))
}

/// Stores a ceremony's state; returns the value the browser sends back.
async fn open(db: &Db, mut row: ChallengeRow, now: i64) -> Result<String, StoreError> {
    let value = secrets::random_token(32);
    row.id_hash = secrets::sha256_hex(&value);
    row.created_at = now;
    row.expires_at = now + CEREMONY_TTL;
    db.write(move |conn| challenges::insert(conn, &row)).await?;
    Ok(value)
}

/// Takes a ceremony of `purpose`: its row, once.
fn take(
    conn: &mut DbConnection,
    ceremony: &str,
    purpose: &str,
    now: i64,
) -> Result<Option<ChallengeRow>, StoreError> {
    let row = challenges::take_live(conn, &secrets::sha256_hex(ceremony), now)?;
    Ok(row.filter(|r| r.purpose == purpose))
}

/// Begins registering a passkey for `user`: the options for the browser's
/// `navigator.credentials.create()` and the ceremony's value.
pub async fn begin_registration(
    db: &Db,
    rp: &RelyingParty,
    user: &UserRow,
    now: i64,
) -> Result<(serde_json::Value, String), PasskeyError> {
    let fresh = b64(&secrets::random_bytes(USER_HANDLE_LEN));
    let id = user.id.clone();
    let (handle, existing) = db
        .write(move |conn| {
            let handle = users::ensure_webauthn_handle(conn, &id, &fresh)?;
            Ok::<_, StoreError>((handle, rows::passkeys_of(conn, &id)?))
        })
        .await?;
    let handle = handle.ok_or(PasskeyError::Rejected(
        "this account no longer exists".into(),
    ))?;
    let exclude = existing
        .iter()
        .map(|p| unb64(&p.credential_id))
        .collect::<Result<Vec<_>, _>>()?;
    let person = PasskeyUser {
        handle: unb64(&handle)?,
        name: user.username.clone(),
        display_name: user.name.clone().unwrap_or_else(|| user.username.clone()),
    };
    let (options, state) = rp.start_registration(&person, &exclude)?;
    let row = ChallengeRow {
        id_hash: String::new(),
        purpose: REGISTER.into(),
        user_id: Some(user.id.clone()),
        continue_to: None,
        amr: String::new(),
        required_acr: "pwd".into(),
        session_hash: None,
        ceremony_state: Some(state),
        created_at: 0,
        expires_at: 0,
    };
    Ok((options, open(db, row, now).await?))
}

/// Finishes a registration begun by [`begin_registration`] for the same
/// person, and stores the passkey as `name`.
pub async fn finish_registration(
    db: &Db,
    rp: &RelyingParty,
    user: &UserRow,
    ceremony: &str,
    response: &str,
    name: &str,
    now: i64,
) -> Result<PasskeySummary, PasskeyError> {
    let (c, uid) = (ceremony.to_owned(), user.id.clone());
    let row = db
        .write(move |conn| take(conn, &c, REGISTER, now))
        .await?
        .filter(|r| r.user_id.as_deref() == Some(uid.as_str()))
        .ok_or(PasskeyError::Expired)?;
    let state = row.ceremony_state.unwrap_or_default();
    let credential = rp.finish_registration(&state, response)?;
    let name: String = name.trim().chars().take(MAX_NAME_CHARS).collect();
    let name = if name.is_empty() {
        "Passkey".to_owned()
    } else {
        name
    };
    let passkey = PasskeyRow {
        credential_id: b64(&credential.credential_id),
        user_id: user.id.clone(),
        name,
        public_key: credential.public_key,
        sign_count: i64::from(credential.sign_count),
        backup_eligible: credential.backup_eligible,
        backup_state: credential.backup_state,
        created_at: now,
        last_used_at: None,
    };
    let stored = passkey.clone();
    db.write(move |conn| {
        rows::insert_passkey(conn, &stored)?;
        audit::record_or_log(
            conn,
            now,
            &stored.user_id,
            "mfa.enrolled",
            &stored.user_id,
            "passkey",
        );
        Ok::<_, StoreError>(())
    })
    .await
    .map_err(|e| match e {
        StoreError::Conflict(_) => {
            PasskeyError::Rejected("this passkey is registered already".into())
        }
        other => other.into(),
    })?;
    Ok(PasskeySummary {
        id: passkey.credential_id,
        name: passkey.name,
        created_at: now,
        last_used_at: None,
        synced: passkey.backup_eligible,
    })
}

/// Begins "Sign in with a passkey": options for
/// `navigator.credentials.get()` (no credential named: the authenticator
/// offers its own) and the ceremony's value. `continue_to` is where the
/// browser goes once signed in.
pub async fn begin_sign_in(
    db: &Db,
    rp: &RelyingParty,
    continue_to: Option<String>,
    now: i64,
) -> Result<(serde_json::Value, String), PasskeyError> {
    let (options, state) = rp.start_discoverable()?;
    let row = ChallengeRow {
        id_hash: String::new(),
        purpose: SIGN_IN.into(),
        user_id: None,
        continue_to,
        amr: String::new(),
        required_acr: "pwd".into(),
        session_hash: None,
        ceremony_state: Some(state),
        created_at: 0,
        expires_at: 0,
    };
    Ok((options, open(db, row, now).await?))
}

/// A passkey sign-in that verified: who, how, and where to go.
#[derive(Debug)]
pub struct SignedIn {
    pub user: UserRow,
    pub amr: Amr,
    pub continue_to: Option<String>,
}

/// Finishes a passkey sign-in: the credential must be registered, its user
/// handle the person's, the signature right, the counter forward.
pub async fn finish_sign_in(
    db: &Db,
    rp: &RelyingParty,
    ceremony: &str,
    response: &str,
    now: i64,
) -> Result<SignedIn, PasskeyError> {
    let c = ceremony.to_owned();
    let row = db
        .write(move |conn| take(conn, &c, SIGN_IN, now))
        .await?
        .ok_or(PasskeyError::Expired)?;
    let state = row.ceremony_state.unwrap_or_default();
    let (user, passkey) = verify(db, rp, &state, response, None, now).await?;
    let id = user.id.clone();
    let detail = passkey.name.clone();
    db.write(move |conn| {
        audit::record_or_log(conn, now, &id, "login.passkey", &id, &detail);
        Ok::<_, StoreError>(())
    })
    .await?;
    Ok(SignedIn {
        amr: Amr::passkey(passkey.backup_eligible, true),
        user,
        continue_to: row.continue_to,
    })
}

/// Options for a passkey as the second factor of `user_id`'s login: their
/// credentials are named. The state is kept on the login's own challenge
/// row (`challenge_hash`).
pub async fn begin_second_factor(
    db: &Db,
    rp: &RelyingParty,
    user_id: &str,
    challenge_hash: &str,
) -> Result<serde_json::Value, PasskeyError> {
    let id = user_id.to_owned();
    let passkeys = db.run(move |conn| rows::passkeys_of(conn, &id)).await?;
    let ids = passkeys
        .iter()
        .map(|p| unb64(&p.credential_id))
        .collect::<Result<Vec<_>, _>>()?;
    let (options, state) = rp.start_second_factor(&ids)?;
    let hash = challenge_hash.to_owned();
    let stored = db
        .write(move |conn| challenges::set_ceremony(conn, &hash, &state))
        .await?;
    if !stored {
        return Err(PasskeyError::Expired);
    }
    Ok(options)
}

/// Checks a passkey given as `user_id`'s second factor against the state
/// on the login's challenge row. Returns whether the passkey is synced.
pub async fn check_second_factor(
    db: &Db,
    rp: &RelyingParty,
    user_id: &str,
    state: &[u8],
    response: &str,
    now: i64,
) -> Result<bool, PasskeyError> {
    let (_, passkey) = verify(db, rp, state, response, Some(user_id), now).await?;
    Ok(passkey.backup_eligible)
}

/// The common part of both uses: the stored credential, the assertion
/// verified against it, its counter and backup state recorded (once: two
/// replicas finishing the same assertion cannot both succeed).
async fn verify(
    db: &Db,
    rp: &RelyingParty,
    state: &[u8],
    response: &str,
    expected_user: Option<&str>,
    now: i64,
) -> Result<(UserRow, PasskeyRow), PasskeyError> {
    let ids = RelyingParty::assertion_ids(response)?;
    let credential_id = b64(&ids.credential_id);
    let lookup = credential_id.clone();
    let found = db
        .run(move |conn| {
            let Some(passkey) = rows::find_passkey(conn, &lookup)? else {
                return Ok::<_, StoreError>(None);
            };
            let user = users::find_by_id(conn, &passkey.user_id)?;
            let handle = users::webauthn_handle(conn, &passkey.user_id)?;
            Ok(user.zip(handle).map(|(u, h)| (passkey, u, h)))
        })
        .await?;
    let Some((passkey, user, handle)) = found else {
        return Err(PasskeyError::Rejected(
            "this passkey is not registered here".into(),
        ));
    };
    if user.disabled || expected_user.is_some_and(|id| id != user.id) {
        return Err(PasskeyError::Rejected(
            "this passkey is not registered here".into(),
        ));
    }
    let stored = StoredCredential {
        credential_id: ids.credential_id,
        user_handle: unb64(&handle)?,
        public_key: passkey.public_key.clone(),
        sign_count: u32::try_from(passkey.sign_count).unwrap_or(u32::MAX),
        backup_eligible: passkey.backup_eligible,
        backup_state: passkey.backup_state,
    };
    let verified = rp.finish_authentication(state, response, &stored)?;
    let (previous, id) = (passkey.sign_count, credential_id);
    let recorded = db
        .write(move |conn| {
            rows::record_passkey_use(
                conn,
                &id,
                previous,
                i64::from(verified.sign_count),
                verified.backup_state,
                now,
            )
        })
        .await?;
    if !recorded {
        return Err(PasskeyError::Rejected(
            "this assertion was used already".into(),
        ));
    }
    Ok((user, passkey))
}

/// The ceremony state a login's challenge row holds, for
/// [`check_second_factor`].
pub async fn second_factor_state(
    db: &Db,
    challenge_hash: &str,
    now: i64,
) -> Result<Option<Vec<u8>>, StoreError> {
    let hash = challenge_hash.to_owned();
    Ok(db
        .run(move |conn| challenges::find_live(conn, &hash, now))
        .await?
        .and_then(|r| r.ceremony_state))
}
