DROP INDEX refresh_tokens_session;
ALTER TABLE refresh_tokens DROP COLUMN session_id;
DROP TABLE consents;
DROP TABLE authorization_codes;
DROP TABLE authorization_requests;
DROP TABLE sessions;
ALTER TABLE clients DROP COLUMN post_logout_redirect_uris;
ALTER TABLE clients DROP COLUMN consent;
