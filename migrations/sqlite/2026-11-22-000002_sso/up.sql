ALTER TABLE clients ADD COLUMN consent BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '';

-- SSO sessions. The cookie holds a random id; only its SHA-256 is stored.
CREATE TABLE sessions (
    id_hash     TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time   BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    ended_at    BIGINT
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Validated authorization requests waiting for a login or a consent.
CREATE TABLE authorization_requests (
    id           TEXT PRIMARY KEY NOT NULL,
    params       TEXT NOT NULL,
    csrf_token   TEXT NOT NULL,
    browser_hash TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);

CREATE TABLE authorization_codes (
    code_hash      TEXT PRIMARY KEY NOT NULL,
    client_id      TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id     TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    scope          TEXT NOT NULL,
    nonce          TEXT,
    code_challenge TEXT,
    claims         TEXT,
    auth_time      BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT,
    family_id      TEXT
);

-- Scopes a user granted to a third-party client, remembered.
CREATE TABLE consents (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

ALTER TABLE refresh_tokens ADD COLUMN session_id TEXT;
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
