DROP TABLE login_attempts;
DROP TABLE revoked_access_tokens;
