DROP TABLE audit_events;
DROP INDEX signing_keys_one_next;
