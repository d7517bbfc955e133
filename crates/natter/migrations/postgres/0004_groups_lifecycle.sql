-- Groups, the message lifecycle (replies, edits, deletes, reactions) and the
-- per-conversation change counter `rev`.
ALTER TABLE conversations DROP CONSTRAINT conversations_kind_check;
ALTER TABLE conversations ADD CONSTRAINT conversations_kind_check
    CHECK (kind IN ('direct', 'group', 'lobby'));
ALTER TABLE conversations ADD COLUMN title TEXT;
ALTER TABLE conversations ADD COLUMN owner_id TEXT REFERENCES users (id);
-- The change counter: bumped, in the same transaction, by every new message,
-- edit, delete and reaction; the conversation's row lock orders them, also
-- between nodes.
ALTER TABLE conversations ADD COLUMN last_rev BIGINT NOT NULL DEFAULT 0;
UPDATE conversations SET last_rev = last_seq;

-- Every member of every direct and group conversation (the lobby has everyone
-- and no rows), so "who shares a conversation with X" is one indexed join.
CREATE TABLE conversation_members (
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    user_id         TEXT NOT NULL REFERENCES users (id),
    joined_at       BIGINT NOT NULL,
    -- Seniority: the rev of the change that added them × 256 + their place in
    -- it, so the earliest to join, and among those the first named, ranks first.
    joined_rev      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX conversation_members_by_user ON conversation_members (user_id, conversation_id);
INSERT INTO conversation_members (conversation_id, user_id, joined_at, joined_rev)
SELECT id, user_a, created_at, 0 FROM conversations WHERE kind = 'direct'
UNION ALL
SELECT id, user_b, created_at, 0 FROM conversations WHERE kind = 'direct';

ALTER TABLE messages ADD COLUMN type TEXT NOT NULL DEFAULT 'text';
-- JSON `{action, actorId, userIds?, title?}` for system messages.
ALTER TABLE messages ADD COLUMN system TEXT;
ALTER TABLE messages ADD COLUMN reply_to BIGINT;
ALTER TABLE messages ADD COLUMN edited_at BIGINT;
ALTER TABLE messages ADD COLUMN deleted_at BIGINT;
ALTER TABLE messages ADD COLUMN rev BIGINT NOT NULL DEFAULT 0;
UPDATE messages SET rev = seq;
CREATE INDEX messages_by_rev ON messages (conversation_id, rev);
CREATE INDEX messages_by_reply ON messages (conversation_id, reply_to) WHERE reply_to IS NOT NULL;

-- One row per (message, emoji, user); `rev` is the change that added it, so an
-- emoji's first use is its smallest rev.
CREATE TABLE reactions (
    conversation_id TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    emoji           TEXT NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users (id),
    rev             BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, seq, emoji, user_id),
    FOREIGN KEY (conversation_id, seq) REFERENCES messages (conversation_id, seq)
);
