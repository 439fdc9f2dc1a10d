-- State the switch nodes on one store share.

-- Slots: one row per call admitted under a limit shared by the nodes (an
-- account's calls, a carrier's channels), by scope ("account:42",
-- "carrier:NAME"). A slot is open while ended_at is NULL and expires_at
-- is ahead: its node renews expires_at while it lives, so a dead node's
-- slots free themselves. Rows stay a minute after they end, for the calls
-- per minute, then are purged.
CREATE TABLE call_slots (
	id         TEXT PRIMARY KEY,
	scope      TEXT NOT NULL,
	node       TEXT NOT NULL,
	started_at {{.Time}} NOT NULL,
	ended_at   {{.Time}},
	expires_at {{.Time}} NOT NULL
);
CREATE INDEX call_slots_scope_started ON call_slots (scope, started_at);
CREATE INDEX call_slots_node_open ON call_slots (node) WHERE ended_at IS NULL;

-- One row per scope, locked by each take so that the takes of one scope
-- run one at a time on every engine; admitted counts the takes.
CREATE TABLE slot_scopes (
	scope    TEXT PRIMARY KEY,
	admitted {{.Int}} NOT NULL
);

-- Bans are lifted (an unban) in place rather than deleted, and each change
-- is stamped, so that every node reads the changes the others made.
ALTER TABLE guard_bans ADD COLUMN lifted {{.Bool}} NOT NULL DEFAULT {{.False}};
ALTER TABLE guard_bans ADD COLUMN changed_at {{.Time}};
CREATE INDEX guard_bans_changed_at ON guard_bans (changed_at);

-- Devices registered, and the node that holds each one's connection.
CREATE TABLE registrations (
	username   TEXT NOT NULL,
	contact    TEXT NOT NULL,
	source     TEXT NOT NULL,
	transport  TEXT NOT NULL,
	node       TEXT NOT NULL,
	expires_at {{.Time}} NOT NULL,
	PRIMARY KEY (username, contact)
);
CREATE INDEX registrations_expires_at ON registrations (expires_at);
