-- Resource indicators (RFC 8707): the resources a client may ask tokens
-- for, and those a code or a refresh family was granted for.
ALTER TABLE clients ADD COLUMN resources TEXT NOT NULL DEFAULT '';
ALTER TABLE authorization_codes ADD COLUMN resources TEXT NOT NULL DEFAULT '';
ALTER TABLE refresh_tokens ADD COLUMN resources TEXT NOT NULL DEFAULT '';

-- Token exchange (RFC 8693): the audiences a client may exchange tokens
-- for, and whether it may impersonate (exchange without an actor).
ALTER TABLE clients ADD COLUMN exchange_audiences TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN exchange_impersonation BOOLEAN NOT NULL DEFAULT FALSE;

-- Dynamic registration (RFC 7591/7592): clients made through /register,
-- their registration access token (hashed) and the metadata they
-- registered that has no column of its own, as JSON.
ALTER TABLE clients ADD COLUMN dynamic BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN registration_token_hash TEXT;
ALTER TABLE clients ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';

-- Initial access tokens (RFC 7591 §3), minted by an operator; hashed.
CREATE TABLE registration_tokens (
    id         TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    uses_left  BIGINT
);

-- Device authorization requests (RFC 8628). The device code is stored
-- hashed; the user code is short-lived and typed by a person.
CREATE TABLE device_codes (
    device_code_hash TEXT PRIMARY KEY NOT NULL,
    user_code        TEXT NOT NULL UNIQUE,
    client_id        TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    scope            TEXT NOT NULL,
    resources        TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    poll_interval    BIGINT NOT NULL,
    last_polled_at   BIGINT,
    -- Answered slow_down since its last on-time poll: further early polls
    -- are answered from this, without a write.
    slowed           BOOLEAN NOT NULL DEFAULT FALSE,
    status           TEXT NOT NULL,
    user_id          TEXT REFERENCES users (id) ON DELETE CASCADE,
    session_id       TEXT,
    auth_time        BIGINT,
    decided_at       BIGINT
);
CREATE INDEX device_codes_expires ON device_codes (expires_at);
