-- The SIP guard's bans, one per source address, and the highest nonce
-- count each digest nonce was used with: both shared by the nodes.
CREATE TABLE guard_bans (
	address  TEXT PRIMARY KEY,
	reason   TEXT NOT NULL,
	since    {{.Time}} NOT NULL,
	until    {{.Time}} NOT NULL,
	failures {{.Int}} NOT NULL,
	count    {{.Int}} NOT NULL
);

CREATE TABLE nonce_uses (
	nonce      TEXT PRIMARY KEY,
	nc         {{.Int}} NOT NULL,
	expires_at {{.Time}} NOT NULL
);
CREATE INDEX nonce_uses_expires ON nonce_uses (expires_at);
