-- Devices: per-device SIP digest credentials of an account (HA1 hashes
-- only), revocable, each with where and when it last signed in.
CREATE TABLE devices (
	id             {{.ID}},
	account_id     {{.Int}} NOT NULL REFERENCES accounts (id),
	name           TEXT NOT NULL,
	username       TEXT NOT NULL UNIQUE,
	realm          TEXT NOT NULL,
	ha1_md5        TEXT NOT NULL,
	ha1_sha256     TEXT NOT NULL,
	created_at     {{.Time}} NOT NULL,
	last_seen_at   {{.Time}},
	last_seen_addr TEXT NOT NULL DEFAULT '',
	revoked_at     {{.Time}}
);
CREATE INDEX devices_account ON devices (account_id);

-- Each account's SIP password so far becomes its first device, under the
-- account's username, so the phones already set up keep working.
INSERT INTO devices (account_id, name, username, realm, ha1_md5, ha1_sha256, created_at)
	SELECT id, 'account password', username, realm, ha1_md5, ha1_sha256, created_at FROM accounts;

-- Server secrets made on first use (the key of app credentials when
-- sip.auth_secret is not set), shared by the nodes of one database.
CREATE TABLE server_secrets (
	name       TEXT PRIMARY KEY,
	value      TEXT NOT NULL,
	created_at {{.Time}} NOT NULL
);
