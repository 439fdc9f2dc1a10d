-- Accounts: SIP digest credentials as HA1 hashes only.
CREATE TABLE accounts (
	id          INTEGER PRIMARY KEY,
	username    TEXT NOT NULL UNIQUE,
	realm       TEXT NOT NULL,
	ha1_md5     TEXT NOT NULL,
	ha1_sha256  TEXT NOT NULL,
	country     TEXT NOT NULL,
	currency    TEXT NOT NULL,
	status      TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
	created_at  INTEGER NOT NULL, -- unix microseconds, UTC
	updated_at  INTEGER NOT NULL
);

-- One row per call attempt, written once when the call ends.
CREATE TABLE cdrs (
	id               TEXT PRIMARY KEY,
	app_call_id      TEXT NOT NULL,
	carrier_call_id  TEXT NOT NULL,
	account_id       INTEGER NOT NULL REFERENCES accounts (id),
	account          TEXT NOT NULL,
	caller           TEXT NOT NULL,
	dialed_raw       TEXT NOT NULL,
	dialed_e164      TEXT NOT NULL,
	trunk            TEXT NOT NULL,
	setup_at         INTEGER NOT NULL, -- unix microseconds, UTC
	ringing_at       INTEGER,
	answer_at        INTEGER,
	end_at           INTEGER NOT NULL,
	duration_ms      INTEGER NOT NULL,
	billed_seconds   INTEGER NOT NULL,
	disposition      TEXT NOT NULL,
	sip_code         INTEGER NOT NULL,
	sip_reason       TEXT NOT NULL,
	hangup_by        TEXT NOT NULL,
	app_codec        TEXT NOT NULL,
	carrier_codec    TEXT NOT NULL,
	app_packets      INTEGER NOT NULL,
	app_lost         INTEGER NOT NULL,
	carrier_packets  INTEGER NOT NULL,
	carrier_lost     INTEGER NOT NULL
);
CREATE INDEX cdrs_end_at ON cdrs (end_at, id);
CREATE INDEX cdrs_account_end_at ON cdrs (account, end_at);
CREATE INDEX cdrs_trunk_end_at ON cdrs (trunk, end_at);
