-- Access tokens revoked before they expire (RFC 7009), by jti; rows go
-- once the token would have expired anyway.
CREATE TABLE revoked_access_tokens (
    jti        TEXT PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Failed logins per username and per client address, shared by replicas.
CREATE TABLE login_attempts (
    key             TEXT PRIMARY KEY NOT NULL,
    failures        BIGINT NOT NULL,
    window_start    BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL
);
