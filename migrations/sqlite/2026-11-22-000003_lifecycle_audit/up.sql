-- At most one pre-published key per algorithm, so two replicas racing to
-- prepare the next rotation cannot both succeed.
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (alg) WHERE state = 'next';

-- Who did what, when. Never a secret.
CREATE TABLE audit_events (
    id      TEXT PRIMARY KEY NOT NULL,
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_at ON audit_events (at);
