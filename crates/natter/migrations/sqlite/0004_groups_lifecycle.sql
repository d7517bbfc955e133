-- no-transaction
-- Groups, the message lifecycle (replies, edits, deletes, reactions) and the
-- per-conversation change counter `rev`.
--
-- SQLite cannot alter a CHECK constraint, so `conversations` is rebuilt with
-- foreign keys off (the documented 12-step procedure); hence no-transaction:
-- `PRAGMA foreign_keys` is ignored inside a transaction.
PRAGMA foreign_keys = OFF;
BEGIN;

CREATE TABLE conversations_new (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('direct', 'group', 'lobby')),
    user_a           TEXT REFERENCES users (id),
    user_b           TEXT REFERENCES users (id),
    title            TEXT,
    owner_id         TEXT REFERENCES users (id),
    last_seq         INTEGER NOT NULL DEFAULT 0,
    -- The change counter: bumped, in the same transaction, by every new
    -- message, edit, delete and reaction; the conversation's row lock orders them.
    last_rev         INTEGER NOT NULL DEFAULT 0,
    last_activity_at INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    UNIQUE (user_a, user_b)
);
INSERT INTO conversations_new (id, kind, user_a, user_b, last_seq, last_rev, last_activity_at, created_at)
SELECT id, kind, user_a, user_b, last_seq, last_seq, last_activity_at, created_at FROM conversations;
DROP TABLE conversations;
ALTER TABLE conversations_new RENAME TO conversations;
CREATE INDEX conversations_by_user_b ON conversations (user_b);

-- Every member of every direct and group conversation (the lobby has everyone
-- and no rows), so "who shares a conversation with X" is one indexed join.
CREATE TABLE conversation_members (
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    user_id         TEXT NOT NULL REFERENCES users (id),
    joined_at       INTEGER NOT NULL,
    -- Orders members by seniority: the conversation's rev when they joined.
    joined_rev      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, user_id)
) WITHOUT ROWID;
CREATE INDEX conversation_members_by_user ON conversation_members (user_id, conversation_id);
INSERT INTO conversation_members (conversation_id, user_id, joined_at, joined_rev)
SELECT id, user_a, created_at, 0 FROM conversations WHERE kind = 'direct'
UNION ALL
SELECT id, user_b, created_at, 0 FROM conversations WHERE kind = 'direct';

ALTER TABLE messages ADD COLUMN type TEXT NOT NULL DEFAULT 'text';
-- JSON `{action, actorId, userIds?, title?}` for system messages.
ALTER TABLE messages ADD COLUMN system TEXT;
ALTER TABLE messages ADD COLUMN reply_to INTEGER;
ALTER TABLE messages ADD COLUMN edited_at INTEGER;
ALTER TABLE messages ADD COLUMN deleted_at INTEGER;
ALTER TABLE messages ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;
UPDATE messages SET rev = seq;
CREATE INDEX messages_by_rev ON messages (conversation_id, rev);
CREATE INDEX messages_by_reply ON messages (conversation_id, reply_to) WHERE reply_to IS NOT NULL;

-- One row per (message, emoji, user); `rev` is the change that added it, so an
-- emoji's first use is its smallest rev.
CREATE TABLE reactions (
    conversation_id TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    emoji           TEXT NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users (id),
    rev             INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, seq, emoji, user_id),
    FOREIGN KEY (conversation_id, seq) REFERENCES messages (conversation_id, seq)
) WITHOUT ROWID;

COMMIT;
PRAGMA foreign_keys = ON;
