-- Core schema: users, sessions, conversations (direct + the lobby), messages, read marks.
CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    display_name   TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    status_message TEXT NOT NULL DEFAULT '',
    avatar_id      TEXT,
    last_seen_at   INTEGER,
    created_at     INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- user_a < user_b for direct conversations, so one pair has exactly one row.
CREATE TABLE conversations (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('direct', 'lobby')),
    user_a           TEXT REFERENCES users (id),
    user_b           TEXT REFERENCES users (id),
    last_seq         INTEGER NOT NULL DEFAULT 0,
    last_activity_at INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    UNIQUE (user_a, user_b)
);
CREATE INDEX conversations_by_user_b ON conversations (user_b);
INSERT INTO conversations (id, kind, last_seq, last_activity_at, created_at)
VALUES ('lobby', 'lobby', 0, 0, 0);

-- Clustered on (conversation_id, seq): a history page is one contiguous range read.
CREATE TABLE messages (
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    seq             INTEGER NOT NULL,
    id              TEXT NOT NULL,
    sender_id       TEXT NOT NULL REFERENCES users (id),
    msg             TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX messages_idempotency ON messages (sender_id, client_id);

CREATE TABLE read_marks (
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    user_id         TEXT NOT NULL REFERENCES users (id),
    last_read_seq   INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
) WITHOUT ROWID;

CREATE TABLE avatars (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    large        BLOB NOT NULL,
    small        BLOB NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX avatars_by_user ON avatars (user_id);
