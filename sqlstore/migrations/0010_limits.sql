-- Per-account limits: what an operator set for one account. A missing row,
-- a 0 or an empty list means the configured default; -1 means unlimited.
-- Amounts are micro-units of the account's currency.
CREATE TABLE account_limits (
	account_id       {{.Int}} PRIMARY KEY REFERENCES accounts (id),
	concurrent_calls {{.Int}} NOT NULL DEFAULT 0,
	calls_per_minute {{.Int}} NOT NULL DEFAULT 0,
	spend_hour       {{.Int}} NOT NULL DEFAULT 0,
	spend_day        {{.Int}} NOT NULL DEFAULT 0,
	max_rate         {{.Int}} NOT NULL DEFAULT 0,
	countries        TEXT NOT NULL DEFAULT '',
	number_types     TEXT NOT NULL DEFAULT '',
	updated_at       {{.Time}} NOT NULL
);

-- What an account spent on calls within a window, and holds for its calls in progress.
CREATE INDEX cdrs_account_id_end_at ON cdrs (account_id, end_at);
CREATE INDEX call_sessions_account_open ON call_sessions (account_id) WHERE {{.IsFalse "settled"}};
