-- How a session's login was proven (RFC 8176 amr values, space-separated):
-- 'pwd' for a password alone, 'pwd otp mfa' with a code, 'hwk user mfa'
-- for a passkey. The acr is derived from it. Codes, refresh families and
-- device grants carry the amr of the session that made them, so every ID
-- token says what its login proved.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
-- What the account page shows of a session.
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT;
ALTER TABLE sessions ADD COLUMN address TEXT;
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
ALTER TABLE authorization_codes ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE refresh_tokens ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE device_codes ADD COLUMN amr TEXT;

-- Every login for this client needs a second factor.
ALTER TABLE clients ADD COLUMN require_mfa BOOLEAN NOT NULL DEFAULT FALSE;

-- The WebAuthn user handle (random, never the user id: WebAuthn §14.6.1).
ALTER TABLE users ADD COLUMN webauthn_handle TEXT;

-- TOTP (RFC 6238): the shared secret sealed under the KEK (AES-256-GCM,
-- bound to 'totp:' || user_id), confirmed once a correct code was given;
-- last_step is the last time step accepted, so a code is never used twice.
CREATE TABLE totp_factors (
    user_id       TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sealed_secret BLOB NOT NULL,
    created_at    BIGINT NOT NULL,
    confirmed_at  BIGINT,
    last_step     BIGINT NOT NULL DEFAULT 0
);

-- Recovery codes: only their SHA-256, single use.
CREATE TABLE recovery_codes (
    code_hash  TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);

-- Passkeys (WebAuthn credentials), by credential id (base64url).
CREATE TABLE passkeys (
    credential_id   TEXT PRIMARY KEY NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    public_key      BLOB NOT NULL,
    sign_count      BIGINT NOT NULL,
    backup_eligible BOOLEAN NOT NULL,
    backup_state    BOOLEAN NOT NULL,
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- A login between its password and its second factor, a step-up, or a
-- WebAuthn ceremony: found by the SHA-256 of the browser's cookie, so any
-- replica can finish what another began; expires within minutes.
CREATE TABLE login_challenges (
    id_hash        TEXT PRIMARY KEY NOT NULL,
    purpose        TEXT NOT NULL,
    user_id        TEXT REFERENCES users (id) ON DELETE CASCADE,
    continue_to    TEXT,
    amr            TEXT NOT NULL,
    required_acr   TEXT NOT NULL DEFAULT 'pwd',
    session_hash   TEXT,
    ceremony_state BLOB,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL
);
CREATE INDEX login_challenges_expires ON login_challenges (expires_at);
