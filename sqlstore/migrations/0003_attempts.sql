-- Every carrier tried for a call and what each answered, e.g. "a=503;b=timeout;c=200".
ALTER TABLE cdrs ADD COLUMN attempts TEXT NOT NULL DEFAULT '';
