-- Red envelopes: the money waits in ledger account envelope:<id>.
CREATE TABLE envelopes (
	id          TEXT PRIMARY KEY,
	sender_id   INTEGER NOT NULL REFERENCES accounts (id),
	currency    TEXT NOT NULL,
	total       INTEGER NOT NULL,
	count       INTEGER NOT NULL,
	mode        TEXT NOT NULL,
	memo        TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL,
	refunded_at INTEGER,
	refunded    INTEGER NOT NULL DEFAULT 0,
	fund_key    TEXT NOT NULL UNIQUE
);
CREATE INDEX envelopes_open ON envelopes (expires_at) WHERE refunded_at IS NULL;

CREATE TABLE envelope_recipients (
	envelope_id TEXT NOT NULL REFERENCES envelopes (id),
	account_id  INTEGER NOT NULL REFERENCES accounts (id),
	PRIMARY KEY (envelope_id, account_id)
);

CREATE TABLE envelope_shares (
	envelope_id TEXT NOT NULL REFERENCES envelopes (id),
	n           INTEGER NOT NULL,
	amount      INTEGER NOT NULL CHECK (amount > 0),
	account_id  INTEGER REFERENCES accounts (id),
	grabbed_at  INTEGER,
	PRIMARY KEY (envelope_id, n)
);
CREATE UNIQUE INDEX envelope_shares_once ON envelope_shares (envelope_id, account_id);
