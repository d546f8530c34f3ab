//! What a person changes about themselves on the account page: their name
//! and email, their password (which ends their other sessions), their
//! sessions, and the applications they let in. The page is
//! `http::pages::account`; the rules are here.

use diesel::Connection;

use super::sessions;
use super::AccountError;
use crate::audit;
use crate::events::{Events, SessionEndReason};
use crate::store::authorization as consents;
use crate::store::sessions::{self as session_rows, SessionRow};
use crate::store::{clients, refresh_tokens, users, Db, DbConnection, StoreError};

/// The longest name and email the account page accepts (an email address
/// is at most 254 octets, RFC 5321 §4.5.3.1.3 with its path).
pub const MAX_NAME_LEN: usize = 200;
pub const MAX_EMAIL_LEN: usize = 254;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProfileError {
    #[error("The name can be at most {MAX_NAME_LEN} characters.")]
    NameTooLong,
    #[error("The email address can be at most {MAX_EMAIL_LEN} characters.")]
    EmailTooLong,
    #[error("The email address must have one @ with something on each side.")]
    EmailMalformed,
    #[error("The name and email must not contain control characters.")]
    ControlCharacters,
}

/// A profile as given: trimmed, empty fields as none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub name: Option<String>,
    pub email: Option<String>,
}

/// Checks a name and an email as typed into the account page.
pub fn validate_profile(name: &str, email: &str) -> Result<Profile, ProfileError> {
    let (name, email) = (name.trim(), email.trim());
    if name.chars().count() > MAX_NAME_LEN {
        return Err(ProfileError::NameTooLong);
    }
    if email.len() > MAX_EMAIL_LEN {
        return Err(ProfileError::EmailTooLong);
    }
    if name.chars().chain(email.chars()).any(char::is_control) {
        return Err(ProfileError::ControlCharacters);
    }
    if !email.is_empty() {
        let mut parts = email.split('@');
        let ok = match (parts.next(), parts.next(), parts.next()) {
            (Some(local), Some(domain), None) => {
                !local.is_empty() && !domain.is_empty() && !email.contains(char::is_whitespace)
            }
            _ => false,
        };
        if !ok {
            return Err(ProfileError::EmailMalformed);
        }
    }
    let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    Ok(Profile {
        name: some(name),
        email: some(email),
    })
}

/// Saves a person's name and email. Audited `user.profile_updated`.
pub async fn update_profile(
    db: &Db,
    user_id: &str,
    profile: Profile,
    actor: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let (id, actor) = (user_id.to_owned(), actor.to_owned());
    db.write(move |conn| {
        let updated = users::update_profile(
            conn,
            &id,
            profile.name.as_deref(),
            profile.email.as_deref(),
            now,
        )?;
        if updated {
            audit::record_or_log(conn, now, &actor, "user.profile_updated", &id, "");
        }
        Ok(updated)
    })
    .await
}

/// Why a new password is not taken.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NewPasswordError {
    #[error("The new password and its confirmation differ.")]
    Mismatch,
    #[error(
        "The new password must be at least {} characters.",
        super::MIN_PASSWORD_LEN
    )]
    TooShort,
    #[error("The new password is too long.")]
    TooLong,
}

/// Checks a new password and its confirmation before anything is hashed.
pub fn check_new_password(new: &str, confirmation: &str) -> Result<(), NewPasswordError> {
    if new != confirmation {
        return Err(NewPasswordError::Mismatch);
    }
    if new.chars().count() < super::MIN_PASSWORD_LEN {
        return Err(NewPasswordError::TooShort);
    }
    if new.len() > 1024 {
        return Err(NewPasswordError::TooLong);
    }
    Ok(())
}

/// Sets a person's new password (which revokes their refresh tokens) and
/// ends every session of theirs but `keep` (the browser that asked).
/// Returns how many sessions ended.
pub async fn change_password(
    db: &Db,
    events: &Events,
    username: &str,
    user_id: &str,
    new_password: &str,
    keep: &str,
    now: i64,
) -> Result<usize, AccountError> {
    super::users::set_password_async(db, username, new_password, user_id, now).await?;
    Ok(end_other_sessions(
        db,
        events,
        user_id,
        keep,
        now,
        SessionEndReason::PasswordChanged,
    )
    .await?)
}

/// The live sessions of a person, newest first.
pub async fn sessions_of(db: &Db, user_id: &str, now: i64) -> Result<Vec<SessionRow>, StoreError> {
    let id = user_id.to_owned();
    db.run(move |conn| session_rows::live_of_user(conn, &id, now))
        .await
}

/// Ends every live session of `user_id` except `keep` (an id hash), each
/// through [`sessions::end_session`] so the event is told.
pub async fn end_other_sessions(
    db: &Db,
    events: &Events,
    user_id: &str,
    keep: &str,
    now: i64,
    reason: SessionEndReason,
) -> Result<usize, StoreError> {
    let mut ended = 0;
    for row in sessions_of(db, user_id, now).await? {
        if row.id_hash == keep {
            continue;
        }
        if sessions::end_session(db, events, row.id_hash, now, reason)
            .await?
            .is_some()
        {
            ended += 1;
        }
    }
    Ok(ended)
}

/// Ends one session of `user_id`, if it is one of theirs and live. Returns
/// whether it ended.
pub async fn end_own_session(
    db: &Db,
    events: &Events,
    user_id: &str,
    id_hash: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let owned = sessions_of(db, user_id, now)
        .await?
        .into_iter()
        .any(|row| row.id_hash == id_hash);
    if !owned {
        return Ok(false);
    }
    Ok(sessions::end_session(
        db,
        events,
        id_hash.to_owned(),
        now,
        SessionEndReason::EndedFromAccount,
    )
    .await?
    .is_some())
}

/// An application a person let in: a remembered consent, live refresh
/// tokens, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub client_id: String,
    /// The client's display name (its id when it is no longer registered).
    pub name: String,
    /// The scopes consented to, when a consent is remembered.
    pub consented_scope: Option<String>,
    pub granted_at: Option<i64>,
    /// How many refresh-token families are live.
    pub live_grants: usize,
}

/// The applications of a person, by name.
pub fn applications(
    conn: &mut DbConnection,
    user_id: &str,
    now: i64,
) -> Result<Vec<Application>, StoreError> {
    let mut apps: Vec<Application> = Vec::new();
    for consent in consents::consents_of_user(conn, user_id)? {
        apps.push(Application {
            client_id: consent.client_id,
            name: String::new(),
            consented_scope: Some(consent.scope),
            granted_at: Some(consent.granted_at),
            live_grants: 0,
        });
    }
    let mut families = refresh_tokens::live_clients_of_user(conn, user_id, now)?;
    families.sort();
    families.dedup();
    for (client_id, _) in families {
        match apps.iter_mut().find(|a| a.client_id == client_id) {
            Some(app) => app.live_grants += 1,
            None => apps.push(Application {
                client_id,
                name: String::new(),
                consented_scope: None,
                granted_at: None,
                live_grants: 1,
            }),
        }
    }
    for app in &mut apps {
        app.name = clients::name_of(conn, &app.client_id)?.unwrap_or_else(|| app.client_id.clone());
    }
    apps.sort_by(|a, b| a.name.cmp(&b.name).then(a.client_id.cmp(&b.client_id)));
    Ok(apps)
}

/// Forgets a person's consent to a client and revokes their refresh
/// tokens for it, in one transaction. Audited `consent.revoked`. Returns
/// whether there was anything to revoke.
pub async fn revoke_application(
    db: &Db,
    user_id: &str,
    client_id: &str,
    actor: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let (id, client, actor) = (user_id.to_owned(), client_id.to_owned(), actor.to_owned());
    db.write(move |conn| {
        let (consent, revoked) = conn.transaction::<_, StoreError, _>(|conn| {
            let consent = consents::delete_consent(conn, &id, &client)?;
            let revoked = refresh_tokens::revoke_for_user_client(conn, &id, &client, now)?;
            Ok((consent, revoked))
        })?;
        let any = consent || revoked > 0;
        if any {
            let detail = format!("client {client}; {revoked} refresh token(s) revoked");
            audit::record_or_log(conn, now, &actor, "consent.revoked", &id, &detail);
        }
        Ok(any)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_trimmed_and_checked() {
        let p = validate_profile("  Ada Lovelace ", " ada@example.org ").unwrap();
        assert_eq!(p.name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(p.email.as_deref(), Some("ada@example.org"));
        let empty = validate_profile("", "").unwrap();
        assert_eq!((empty.name, empty.email), (None, None));
        for bad in ["ada", "a@b@c", "@example.org", "ada@", "a da@example.org"] {
            assert_eq!(
                validate_profile("", bad),
                Err(ProfileError::EmailMalformed),
                "{bad}"
            );
        }
        let long_email = format!("{}@example.org", "a".repeat(250));
        assert_eq!(
            validate_profile("", &long_email),
            Err(ProfileError::EmailTooLong)
        );
        assert_eq!(
            validate_profile(&"n".repeat(201), ""),
            Err(ProfileError::NameTooLong)
        );
        assert!(validate_profile(&"n".repeat(200), "").is_ok());
        assert_eq!(
            validate_profile("a\u{7}b", ""),
            Err(ProfileError::ControlCharacters)
        );
    }

    #[test]
    fn new_passwords_must_match_and_be_long_enough() {
        assert_eq!(
            check_new_password("abcdefgh", "abcdefgx"),
            Err(NewPasswordError::Mismatch)
        );
        assert_eq!(
            check_new_password("short", "short"),
            Err(NewPasswordError::TooShort)
        );
        assert!(check_new_password("long enough", "long enough").is_ok());
    }
}
