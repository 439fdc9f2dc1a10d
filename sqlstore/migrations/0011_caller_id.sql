-- An account's verified caller number (E.164), set by an operator: the
-- only number its calls may present. Empty: none.
ALTER TABLE accounts ADD COLUMN caller_id TEXT NOT NULL DEFAULT '';
