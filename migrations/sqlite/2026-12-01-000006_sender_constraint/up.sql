-- Client authentication as registered (RFC 7591 token_endpoint_auth_method):
-- client_secret_basic and client_secret_post both take the secret, none is a
-- public client, private_key_jwt (RFC 7523) signs assertions with a key from
-- `jwks` (a JWK Set as JSON) or fetched from `jwks_uri`.
ALTER TABLE clients ADD COLUMN auth_method TEXT NOT NULL DEFAULT 'client_secret_basic';
UPDATE clients SET auth_method = 'none' WHERE secret_hash IS NULL;
ALTER TABLE clients ADD COLUMN jwks TEXT;
ALTER TABLE clients ADD COLUMN jwks_uri TEXT;

-- Policy flags: pushed authorization requests only (RFC 9126), DPoP-bound
-- tokens only (RFC 9449), and the profile the client was registered under
-- (NULL, or 'fapi2' for the FAPI 2.0 Security Profile).
ALTER TABLE clients ADD COLUMN require_par BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN require_dpop BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN profile TEXT;

-- The DPoP key (RFC 7638 thumbprint) a code or a refresh family is bound to.
ALTER TABLE authorization_codes ADD COLUMN dpop_jkt TEXT;
ALTER TABLE refresh_tokens ADD COLUMN dpop_jkt TEXT;

-- JWT ids seen once (client assertions, DPoP proofs), hashed with what
-- scopes them, kept until the JWT could no longer be accepted anyway.
CREATE TABLE seen_jtis (
    jti_hash   TEXT PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX seen_jtis_expires ON seen_jtis (expires_at);

-- Pushed authorization requests (RFC 9126): the validated request, by the
-- hash of its request_uri; single use.
CREATE TABLE pushed_requests (
    request_uri_hash TEXT PRIMARY KEY NOT NULL,
    client_id        TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    params           TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    used_at          BIGINT
);
CREATE INDEX pushed_requests_expires ON pushed_requests (expires_at);
