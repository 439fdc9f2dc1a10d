-- Company-paid calling: a member's monthly cap, and who paid each call.
ALTER TABLE org_members ADD COLUMN call_cap {{.Int}} NOT NULL DEFAULT 0;
ALTER TABLE cdrs ADD COLUMN paid_by TEXT NOT NULL DEFAULT '';
CREATE INDEX cdrs_paid_by ON cdrs (paid_by, account_id, end_at) WHERE paid_by LIKE 'org:%';
ALTER TABLE call_sessions ADD COLUMN payer TEXT NOT NULL DEFAULT '';
