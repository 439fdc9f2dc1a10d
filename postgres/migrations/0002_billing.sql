-- Money is stored in integer micro-units (10^-6 of the currency unit).

ALTER TABLE accounts ADD COLUMN rate_plan TEXT NOT NULL DEFAULT '';

ALTER TABLE cdrs
	ADD COLUMN currency       TEXT NOT NULL DEFAULT '',
	ADD COLUMN rate_plan      TEXT NOT NULL DEFAULT '',
	ADD COLUMN prefix         TEXT NOT NULL DEFAULT '',
	ADD COLUMN destination    TEXT NOT NULL DEFAULT '',
	ADD COLUMN number_type    TEXT NOT NULL DEFAULT '',
	ADD COLUMN sell_rate      BIGINT NOT NULL DEFAULT 0,
	ADD COLUMN price          BIGINT NOT NULL DEFAULT 0,
	ADD COLUMN bundle_seconds BIGINT NOT NULL DEFAULT 0,
	ADD COLUMN buy_rate       BIGINT NOT NULL DEFAULT 0,
	ADD COLUMN cost           BIGINT NOT NULL DEFAULT 0,
	ADD COLUMN margin         BIGINT NOT NULL DEFAULT 0;

-- Double-entry ledger; movements and entries are append-only. Users'
-- accounts keep a materialized balance that always equals the sum of their
-- entries. House accounts (revenue, funding) take a posting from every call:
-- their balance row is never updated (it would serialize all calls on one
-- row lock) and their balance is the sum of their entries.
CREATE TABLE ledger_accounts (
	id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name           TEXT NOT NULL UNIQUE,
	currency       TEXT NOT NULL,
	balance        BIGINT NOT NULL DEFAULT 0,
	allow_negative BOOLEAN NOT NULL,
	house          BOOLEAN NOT NULL DEFAULT false,
	CHECK (allow_negative OR balance >= 0)
);

CREATE TABLE ledger_movements (
	id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	key         TEXT NOT NULL UNIQUE,
	kind        TEXT NOT NULL,
	currency    TEXT NOT NULL,
	memo        TEXT NOT NULL,
	fingerprint TEXT NOT NULL,
	created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE ledger_entries (
	id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	movement_id BIGINT NOT NULL REFERENCES ledger_movements (id),
	account_id  BIGINT NOT NULL REFERENCES ledger_accounts (id),
	amount      BIGINT NOT NULL,
	balance     BIGINT -- after this entry; NULL on house accounts
);
CREATE INDEX ledger_entries_account ON ledger_entries (account_id, id);

CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'ledger % is append-only', TG_TABLE_NAME;
END $$;
CREATE TRIGGER ledger_movements_append_only BEFORE UPDATE OR DELETE ON ledger_movements
	FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
	FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

-- Rate decks: sell plans and carriers' buy decks.
CREATE TABLE rate_plans (
	name       TEXT PRIMARY KEY,
	currency   TEXT NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE rates (
	plan            TEXT NOT NULL REFERENCES rate_plans (name),
	prefix          TEXT NOT NULL,
	destination     TEXT NOT NULL,
	per_minute      BIGINT NOT NULL,
	connect_fee     BIGINT NOT NULL,
	first_increment BIGINT NOT NULL,
	next_increment  BIGINT NOT NULL,
	effective_from  TIMESTAMPTZ NOT NULL,
	effective_to    TIMESTAMPTZ,
	number_type     TEXT NOT NULL
);
CREATE INDEX rates_plan ON rates (plan, prefix);

-- Bundles bought by accounts.
CREATE TABLE holdings (
	id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	account_id   BIGINT NOT NULL REFERENCES accounts (id),
	bundle       TEXT NOT NULL,
	seconds      BIGINT NOT NULL,
	seconds_left BIGINT NOT NULL CHECK (seconds_left >= 0 AND seconds_left <= seconds),
	increment    BIGINT NOT NULL,
	countries    TEXT NOT NULL,
	number_types TEXT NOT NULL,
	bought_at    TIMESTAMPTZ NOT NULL,
	expires_at   TIMESTAMPTZ NOT NULL,
	movement_key TEXT NOT NULL UNIQUE
);
CREATE INDEX holdings_account ON holdings (account_id, expires_at);

-- The money side of calls in progress; settled exactly once.
CREATE TABLE call_sessions (
	id           TEXT PRIMARY KEY,
	node         TEXT NOT NULL,
	account_id   BIGINT NOT NULL REFERENCES accounts (id),
	currency     TEXT NOT NULL,
	state        TEXT NOT NULL, -- JSON: rates and the CDR so far
	answer_at    TIMESTAMPTZ,
	confirmed_at TIMESTAMPTZ,
	covered      BIGINT NOT NULL DEFAULT 0,
	reserved     BIGINT NOT NULL DEFAULT 0 CHECK (reserved >= 0),
	takes        TEXT NOT NULL DEFAULT '[]',
	seq          INTEGER NOT NULL DEFAULT 0,
	settled      BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX call_sessions_open ON call_sessions (node) WHERE NOT settled;

-- Raised from inside a statement to abort it with a message.
CREATE FUNCTION ledger_fail(msg TEXT) RETURNS BIGINT LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION USING ERRCODE = 'DT001', MESSAGE = msg;
END $$;
