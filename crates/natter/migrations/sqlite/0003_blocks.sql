-- Who blocked whom (contract v2 "Blocking"). Looked up by the blocked user when
-- their typing is fanned out, by the pair when a direct chat is opened or used.
CREATE TABLE blocks (
    blocker_id TEXT NOT NULL REFERENCES users (id),
    blocked_id TEXT NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
) WITHOUT ROWID;
CREATE INDEX blocks_by_blocked ON blocks (blocked_id, blocker_id);
