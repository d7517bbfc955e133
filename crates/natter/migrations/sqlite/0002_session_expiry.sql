-- Sessions end: after NATTER_SESSION_IDLE_DAYS unused (last_used_at, touched at
-- most once a minute) and NATTER_SESSION_MAX_DAYS after sign-in (created_at).
ALTER TABLE sessions ADD COLUMN last_used_at INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET last_used_at = created_at;
CREATE INDEX sessions_by_last_used ON sessions (last_used_at);
CREATE INDEX sessions_by_created ON sessions (created_at);
