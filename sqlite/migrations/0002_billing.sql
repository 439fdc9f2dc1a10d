-- Money is stored in integer micro-units (10^-6 of the currency unit).

ALTER TABLE accounts ADD COLUMN rate_plan TEXT NOT NULL DEFAULT '';

ALTER TABLE cdrs ADD COLUMN currency       TEXT NOT NULL DEFAULT '';
ALTER TABLE cdrs ADD COLUMN rate_plan      TEXT NOT NULL DEFAULT '';
ALTER TABLE cdrs ADD COLUMN prefix         TEXT NOT NULL DEFAULT '';
ALTER TABLE cdrs ADD COLUMN destination    TEXT NOT NULL DEFAULT '';
ALTER TABLE cdrs ADD COLUMN number_type    TEXT NOT NULL DEFAULT '';
ALTER TABLE cdrs ADD COLUMN sell_rate      INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cdrs ADD COLUMN price          INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cdrs ADD COLUMN bundle_seconds INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cdrs ADD COLUMN buy_rate       INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cdrs ADD COLUMN cost           INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cdrs ADD COLUMN margin         INTEGER NOT NULL DEFAULT 0;

-- Double-entry ledger. Balances are materialized and always equal the sum
-- of the account's entries; movements and entries are append-only.
CREATE TABLE ledger_accounts (
	id             INTEGER PRIMARY KEY,
	name           TEXT NOT NULL UNIQUE,
	currency       TEXT NOT NULL,
	balance        INTEGER NOT NULL DEFAULT 0,
	allow_negative INTEGER NOT NULL,
	CHECK (allow_negative = 1 OR balance >= 0)
);

CREATE TABLE ledger_movements (
	id          INTEGER PRIMARY KEY,
	key         TEXT NOT NULL UNIQUE,
	kind        TEXT NOT NULL,
	currency    TEXT NOT NULL,
	memo        TEXT NOT NULL,
	fingerprint TEXT NOT NULL,
	created_at  INTEGER NOT NULL
);

CREATE TABLE ledger_entries (
	id          INTEGER PRIMARY KEY,
	movement_id INTEGER NOT NULL REFERENCES ledger_movements (id),
	account_id  INTEGER NOT NULL REFERENCES ledger_accounts (id),
	amount      INTEGER NOT NULL,
	balance     INTEGER NOT NULL
);
CREATE INDEX ledger_entries_account ON ledger_entries (account_id, id);

CREATE TRIGGER ledger_movements_append_only BEFORE UPDATE ON ledger_movements
BEGIN SELECT RAISE(ABORT, 'ledger movements are append-only'); END;
CREATE TRIGGER ledger_movements_no_delete BEFORE DELETE ON ledger_movements
BEGIN SELECT RAISE(ABORT, 'ledger movements are append-only'); END;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;

-- Rate decks: sell plans and carriers' buy decks.
CREATE TABLE rate_plans (
	name       TEXT PRIMARY KEY,
	currency   TEXT NOT NULL,
	updated_at INTEGER NOT NULL
);

CREATE TABLE rates (
	plan            TEXT NOT NULL REFERENCES rate_plans (name),
	prefix          TEXT NOT NULL,
	destination     TEXT NOT NULL,
	per_minute      INTEGER NOT NULL,
	connect_fee     INTEGER NOT NULL,
	first_increment INTEGER NOT NULL,
	next_increment  INTEGER NOT NULL,
	effective_from  INTEGER NOT NULL,
	effective_to    INTEGER,
	number_type     TEXT NOT NULL
);
CREATE INDEX rates_plan ON rates (plan, prefix);

-- Bundles bought by accounts.
CREATE TABLE holdings (
	id           INTEGER PRIMARY KEY,
	account_id   INTEGER NOT NULL REFERENCES accounts (id),
	bundle       TEXT NOT NULL,
	seconds      INTEGER NOT NULL,
	seconds_left INTEGER NOT NULL CHECK (seconds_left >= 0 AND seconds_left <= seconds),
	increment    INTEGER NOT NULL,
	countries    TEXT NOT NULL,
	number_types TEXT NOT NULL,
	bought_at    INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	movement_key TEXT NOT NULL UNIQUE
);
CREATE INDEX holdings_account ON holdings (account_id, expires_at);

-- The money side of calls in progress; settled exactly once.
CREATE TABLE call_sessions (
	id           TEXT PRIMARY KEY,
	node         TEXT NOT NULL,
	account_id   INTEGER NOT NULL REFERENCES accounts (id),
	currency     TEXT NOT NULL,
	state        TEXT NOT NULL, -- JSON: rates and the CDR so far
	answer_at    INTEGER,
	confirmed_at INTEGER,
	covered      INTEGER NOT NULL DEFAULT 0,
	reserved     INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
	takes        TEXT NOT NULL DEFAULT '[]',
	seq          INTEGER NOT NULL DEFAULT 0,
	settled      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX call_sessions_open ON call_sessions (node) WHERE settled = 0;
