-- Chat: conversations, their members, messages, read markers, attachments.
CREATE TABLE conversations (
	id         {{.ID}},
	kind       TEXT NOT NULL CHECK (kind IN ('direct', 'group', 'broadcast')),
	title      TEXT NOT NULL,
	owner_id   {{.Int}} NOT NULL REFERENCES accounts (id),
	direct_key TEXT UNIQUE, -- "low:high" account ids of a direct conversation
	created_at {{.Time}} NOT NULL
);

CREATE TABLE conversation_members (
	conversation_id {{.Int}} NOT NULL REFERENCES conversations (id),
	account_id      {{.Int}} NOT NULL REFERENCES accounts (id),
	read_upto       {{.Int}} NOT NULL DEFAULT 0,
	PRIMARY KEY (conversation_id, account_id)
);
CREATE INDEX conversation_members_account ON conversation_members (account_id, conversation_id);

CREATE TABLE messages (
	id              {{.ID}},
	conversation_id {{.Int}} NOT NULL REFERENCES conversations (id),
	sender_id       {{.Int}} NOT NULL REFERENCES accounts (id),
	kind            TEXT NOT NULL,
	body            TEXT NOT NULL,
	created_at      {{.Time}} NOT NULL
);
CREATE INDEX messages_conversation ON messages (conversation_id, id);

CREATE TABLE attachments (
	id         TEXT PRIMARY KEY,
	owner_id   {{.Int}} NOT NULL REFERENCES accounts (id),
	type       TEXT NOT NULL,
	size       {{.Int}} NOT NULL,
	created_at {{.Time}} NOT NULL
);
