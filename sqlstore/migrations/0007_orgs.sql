-- Organizations: members with roles, leave, expenses, attendance.
CREATE TABLE orgs (
	id         {{.ID}},
	name       TEXT NOT NULL,
	currency   TEXT NOT NULL,
	created_at {{.Time}} NOT NULL
);

CREATE TABLE org_members (
	org_id     {{.Int}} NOT NULL REFERENCES orgs (id),
	account_id {{.Int}} NOT NULL REFERENCES accounts (id),
	role       TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'employee')),
	leave_days INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (org_id, account_id)
);

CREATE TABLE leave_requests (
	id         {{.ID}},
	org_id     {{.Int}} NOT NULL REFERENCES orgs (id),
	account_id {{.Int}} NOT NULL REFERENCES accounts (id),
	from_day   {{.Date}} NOT NULL,
	to_day     {{.Date}} NOT NULL,
	days       INTEGER NOT NULL CHECK (days > 0),
	reason     TEXT NOT NULL,
	status     TEXT NOT NULL,
	decided_by {{.Int}},
	decided_at {{.Time}},
	created_at {{.Time}} NOT NULL
);
CREATE INDEX leave_requests_member ON leave_requests (org_id, account_id, from_day);

CREATE TABLE expenses (
	id         {{.ID}},
	org_id     {{.Int}} NOT NULL REFERENCES orgs (id),
	account_id {{.Int}} NOT NULL REFERENCES accounts (id),
	amount     {{.Int}} NOT NULL CHECK (amount > 0),
	currency   TEXT NOT NULL,
	category   TEXT NOT NULL,
	receipt    TEXT NOT NULL,
	note       TEXT NOT NULL,
	status     TEXT NOT NULL,
	decided_by {{.Int}},
	decided_at {{.Time}},
	created_at {{.Time}} NOT NULL
);
CREATE INDEX expenses_org ON expenses (org_id, id);

CREATE TABLE shifts (
	org_id     {{.Int}} NOT NULL REFERENCES orgs (id),
	account_id {{.Int}} NOT NULL REFERENCES accounts (id),
	day        TEXT NOT NULL,
	clock_in   {{.Time}} NOT NULL,
	clock_out  {{.Time}},
	PRIMARY KEY (org_id, account_id, day)
);
