-- Red envelopes: the money waits in ledger account envelope:<id>.
CREATE TABLE envelopes (
	id          TEXT PRIMARY KEY,
	sender_id   {{.Int}} NOT NULL REFERENCES accounts (id),
	currency    TEXT NOT NULL,
	total       {{.Int}} NOT NULL,
	count       INTEGER NOT NULL,
	mode        TEXT NOT NULL,
	memo        TEXT NOT NULL,
	created_at  {{.Time}} NOT NULL,
	expires_at  {{.Time}} NOT NULL,
	refunded_at {{.Time}},
	refunded    {{.Int}} NOT NULL DEFAULT 0,
	fund_key    TEXT NOT NULL UNIQUE
);
CREATE INDEX envelopes_open ON envelopes (expires_at) WHERE refunded_at IS NULL;

CREATE TABLE envelope_recipients (
	envelope_id TEXT NOT NULL REFERENCES envelopes (id),
	account_id  {{.Int}} NOT NULL REFERENCES accounts (id),
	PRIMARY KEY (envelope_id, account_id)
);

CREATE TABLE envelope_shares (
	envelope_id TEXT NOT NULL REFERENCES envelopes (id),
	n           INTEGER NOT NULL,
	amount      {{.Int}} NOT NULL CHECK (amount > 0),
	account_id  {{.Int}} REFERENCES accounts (id),
	grabbed_at  {{.Time}},
	PRIMARY KEY (envelope_id, n)
);
CREATE UNIQUE INDEX envelope_shares_once ON envelope_shares (envelope_id, account_id);
