-- Companion API: the account's API password (bcrypt) and bearer tokens (SHA-256 only).
ALTER TABLE accounts ADD COLUMN password_hash TEXT NOT NULL DEFAULT '';

CREATE TABLE api_tokens (
	hash       TEXT PRIMARY KEY,
	account_id {{.Int}} NOT NULL REFERENCES accounts (id),
	created_at {{.Time}} NOT NULL,
	expires_at {{.Time}} NOT NULL,
	revoked_at {{.Time}}
);
CREATE INDEX api_tokens_account ON api_tokens (account_id);
