CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    username      TEXT NOT NULL UNIQUE,
    email         TEXT,
    name          TEXT,
    password_hash TEXT NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE clients (
    client_id     TEXT PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL,
    secret_hash   TEXT,
    grant_types   TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    scope         TEXT NOT NULL,
    audience      TEXT,
    signing_alg   TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE signing_keys (
    kid            TEXT PRIMARY KEY NOT NULL,
    alg            TEXT NOT NULL,
    state          TEXT NOT NULL,
    public_jwk     TEXT NOT NULL,
    sealed_private BLOB NOT NULL,
    created_at     BIGINT NOT NULL,
    activated_at   BIGINT,
    retired_at     BIGINT,
    publish_until  BIGINT
);
-- Two active keys for one algorithm would make signing ambiguous.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (alg) WHERE state = 'active';

CREATE TABLE refresh_tokens (
    id          TEXT PRIMARY KEY NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    family_id   TEXT NOT NULL,
    parent_id   TEXT,
    client_id   TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope       TEXT NOT NULL,
    auth_time   BIGINT NOT NULL,
    issued_at   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    revoked_at  BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);
