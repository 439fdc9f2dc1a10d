-- Each switch node's lease: it renews heartbeat_at (the database's time)
-- every few seconds; when that lapses, another node claims and settles
-- the node's calls in progress. stopped: the node dropped its lease on a
-- clean shutdown. claims: how many times other nodes took its calls over.
CREATE TABLE nodes (
	name         TEXT PRIMARY KEY,
	started_at   {{.Time}} NOT NULL,
	heartbeat_at {{.Time}} NOT NULL,
	stopped      {{.Bool}} NOT NULL DEFAULT {{.False}},
	claims       {{.Int}} NOT NULL DEFAULT 0
);
-- settler: the node that claimed the call from its dead owner (NULL: the
-- owner settles it); lapsed_at: the owner's last heartbeat then, up to
-- which the call is charged.
ALTER TABLE call_sessions ADD COLUMN settler TEXT;
ALTER TABLE call_sessions ADD COLUMN lapsed_at {{.Time}};
CREATE INDEX call_sessions_settler ON call_sessions (settler) WHERE {{.IsFalse "settled"}};
