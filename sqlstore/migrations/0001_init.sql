-- Accounts: SIP digest credentials as HA1 hashes only.
CREATE TABLE accounts (
	id          {{.ID}},
	username    TEXT NOT NULL UNIQUE,
	realm       TEXT NOT NULL,
	ha1_md5     TEXT NOT NULL,
	ha1_sha256  TEXT NOT NULL,
	country     TEXT NOT NULL,
	currency    TEXT NOT NULL,
	status      TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
	created_at  {{.Time}} NOT NULL, -- unix microseconds, UTC
	updated_at  {{.Time}} NOT NULL
);

-- One row per call attempt, written once when the call ends.
CREATE TABLE cdrs (
	id               TEXT PRIMARY KEY,
	app_call_id      TEXT NOT NULL,
	carrier_call_id  TEXT NOT NULL,
	account_id       {{.Int}} NOT NULL REFERENCES accounts (id),
	account          TEXT NOT NULL,
	caller           TEXT NOT NULL,
	dialed_raw       TEXT NOT NULL,
	dialed_e164      TEXT NOT NULL,
	trunk            TEXT NOT NULL,
	setup_at         {{.Time}} NOT NULL, -- unix microseconds, UTC
	ringing_at       {{.Time}},
	answer_at        {{.Time}},
	end_at           {{.Time}} NOT NULL,
	duration_ms      {{.Int}} NOT NULL,
	billed_seconds   {{.Int}} NOT NULL,
	disposition      TEXT NOT NULL,
	sip_code         INTEGER NOT NULL,
	sip_reason       TEXT NOT NULL,
	hangup_by        TEXT NOT NULL,
	app_codec        TEXT NOT NULL,
	carrier_codec    TEXT NOT NULL,
	app_packets      {{.Int}} NOT NULL,
	app_lost         {{.Int}} NOT NULL,
	carrier_packets  {{.Int}} NOT NULL,
	carrier_lost     {{.Int}} NOT NULL
);
CREATE INDEX cdrs_end_at ON cdrs (end_at, id);
CREATE INDEX cdrs_account_end_at ON cdrs (account, end_at);
CREATE INDEX cdrs_trunk_end_at ON cdrs (trunk, end_at);
