-- Money is stored in integer micro-units (10^-6 of the currency unit).

ALTER TABLE accounts ADD COLUMN rate_plan TEXT NOT NULL DEFAULT '';

ALTER TABLE cdrs ADD COLUMN currency       TEXT NOT NULL DEFAULT '';
ALTER TABLE cdrs ADD COLUMN rate_plan      TEXT NOT NULL DEFAULT '';
ALTER TABLE cdrs ADD COLUMN prefix         TEXT NOT NULL DEFAULT '';
ALTER TABLE cdrs ADD COLUMN destination    TEXT NOT NULL DEFAULT '';
ALTER TABLE cdrs ADD COLUMN number_type    TEXT NOT NULL DEFAULT '';
ALTER TABLE cdrs ADD COLUMN sell_rate      {{.Int}} NOT NULL DEFAULT 0;
ALTER TABLE cdrs ADD COLUMN price          {{.Int}} NOT NULL DEFAULT 0;
ALTER TABLE cdrs ADD COLUMN bundle_seconds {{.Int}} NOT NULL DEFAULT 0;
ALTER TABLE cdrs ADD COLUMN buy_rate       {{.Int}} NOT NULL DEFAULT 0;
ALTER TABLE cdrs ADD COLUMN cost           {{.Int}} NOT NULL DEFAULT 0;
ALTER TABLE cdrs ADD COLUMN margin         {{.Int}} NOT NULL DEFAULT 0;

-- Double-entry ledger; movements and entries are append-only. Accounts keep
-- a materialized balance that always equals the sum of their entries.
{{- if .HouseAccounts}}
-- House accounts (revenue, funding) take a posting from every call: their
-- balance row is never updated (it would serialize all calls on one row
-- lock) and their balance is the sum of their entries.
{{- end}}
CREATE TABLE ledger_accounts (
	id             {{.ID}},
	name           TEXT NOT NULL UNIQUE,
	currency       TEXT NOT NULL,
	balance        {{.Int}} NOT NULL DEFAULT 0,
	allow_negative {{.Bool}} NOT NULL,
{{- if .HouseAccounts}}
	house          {{.Bool}} NOT NULL DEFAULT {{.False}},
{{- end}}
	CHECK ({{.IsTrue "allow_negative"}} OR balance >= 0)
);

CREATE TABLE ledger_movements (
	id          {{.ID}},
	key         TEXT NOT NULL UNIQUE,
	kind        TEXT NOT NULL,
	currency    TEXT NOT NULL,
	memo        TEXT NOT NULL,
	fingerprint TEXT NOT NULL,
	created_at  {{.Time}} NOT NULL
);

CREATE TABLE ledger_entries (
	id          {{.ID}},
	movement_id {{.Int}} NOT NULL REFERENCES ledger_movements (id),
	account_id  {{.Int}} NOT NULL REFERENCES ledger_accounts (id),
	amount      {{.Int}} NOT NULL,
{{- if .HouseAccounts}}
	balance     {{.Int}} -- after this entry; NULL on house accounts
{{- else}}
	balance     {{.Int}} NOT NULL
{{- end}}
);
CREATE INDEX ledger_entries_account ON ledger_entries (account_id, id);

{{.Block "ledger_append_only"}}

-- Rate decks: sell plans and carriers' buy decks.
CREATE TABLE rate_plans (
	name       TEXT PRIMARY KEY,
	currency   TEXT NOT NULL,
	updated_at {{.Time}} NOT NULL
);

CREATE TABLE rates (
	plan            TEXT NOT NULL REFERENCES rate_plans (name),
	prefix          TEXT NOT NULL,
	destination     TEXT NOT NULL,
	per_minute      {{.Int}} NOT NULL,
	connect_fee     {{.Int}} NOT NULL,
	first_increment {{.Int}} NOT NULL,
	next_increment  {{.Int}} NOT NULL,
	effective_from  {{.Time}} NOT NULL,
	effective_to    {{.Time}},
	number_type     TEXT NOT NULL
);
CREATE INDEX rates_plan ON rates (plan, prefix);

-- Bundles bought by accounts.
CREATE TABLE holdings (
	id           {{.ID}},
	account_id   {{.Int}} NOT NULL REFERENCES accounts (id),
	bundle       TEXT NOT NULL,
	seconds      {{.Int}} NOT NULL,
	seconds_left {{.Int}} NOT NULL CHECK (seconds_left >= 0 AND seconds_left <= seconds),
	increment    {{.Int}} NOT NULL,
	countries    TEXT NOT NULL,
	number_types TEXT NOT NULL,
	bought_at    {{.Time}} NOT NULL,
	expires_at   {{.Time}} NOT NULL,
	movement_key TEXT NOT NULL UNIQUE
);
CREATE INDEX holdings_account ON holdings (account_id, expires_at);

-- The money side of calls in progress; settled exactly once.
CREATE TABLE call_sessions (
	id           TEXT PRIMARY KEY,
	node         TEXT NOT NULL,
	account_id   {{.Int}} NOT NULL REFERENCES accounts (id),
	currency     TEXT NOT NULL,
	state        TEXT NOT NULL, -- JSON: rates and the CDR so far
	answer_at    {{.Time}},
	confirmed_at {{.Time}},
	covered      {{.Int}} NOT NULL DEFAULT 0,
	reserved     {{.Int}} NOT NULL DEFAULT 0 CHECK (reserved >= 0),
	takes        TEXT NOT NULL DEFAULT '[]',
	seq          INTEGER NOT NULL DEFAULT 0,
	settled      {{.Bool}} NOT NULL DEFAULT {{.False}}
);
CREATE INDEX call_sessions_open ON call_sessions (node) WHERE {{.IsFalse "settled"}};

{{.Block "ledger_fail"}}
