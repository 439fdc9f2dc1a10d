-- Chat: conversations, their members, messages, read markers, attachments.
CREATE TABLE conversations (
	id         INTEGER PRIMARY KEY,
	kind       TEXT NOT NULL CHECK (kind IN ('direct', 'group', 'broadcast')),
	title      TEXT NOT NULL,
	owner_id   INTEGER NOT NULL REFERENCES accounts (id),
	direct_key TEXT UNIQUE, -- "low:high" account ids of a direct conversation
	created_at INTEGER NOT NULL
);

CREATE TABLE conversation_members (
	conversation_id INTEGER NOT NULL REFERENCES conversations (id),
	account_id      INTEGER NOT NULL REFERENCES accounts (id),
	read_upto       INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (conversation_id, account_id)
);
CREATE INDEX conversation_members_account ON conversation_members (account_id, conversation_id);

CREATE TABLE messages (
	id              INTEGER PRIMARY KEY,
	conversation_id INTEGER NOT NULL REFERENCES conversations (id),
	sender_id       INTEGER NOT NULL REFERENCES accounts (id),
	kind            TEXT NOT NULL,
	body            TEXT NOT NULL,
	created_at      INTEGER NOT NULL
);
CREATE INDEX messages_conversation ON messages (conversation_id, id);

CREATE TABLE attachments (
	id         TEXT PRIMARY KEY,
	owner_id   INTEGER NOT NULL REFERENCES accounts (id),
	type       TEXT NOT NULL,
	size       INTEGER NOT NULL,
	created_at INTEGER NOT NULL
);
