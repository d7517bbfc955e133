-- Uploaded files. A row is an upload until a send attaches it (conversation_id,
-- seq and position set, in the send's transaction); unattached rows older than
-- the upload TTL are swept. Deleting the message deletes its rows.
CREATE TABLE attachments (
    id              TEXT PRIMARY KEY,
    uploader_id     TEXT NOT NULL REFERENCES users (id),
    name            TEXT NOT NULL,
    content_type    TEXT NOT NULL,
    size            INTEGER NOT NULL,
    width           INTEGER,
    height          INTEGER,
    has_thumb       INTEGER NOT NULL DEFAULT 0,
    conversation_id TEXT,
    seq             INTEGER,
    position        INTEGER,
    created_at      INTEGER NOT NULL
);
CREATE INDEX attachments_by_message ON attachments (conversation_id, seq)
    WHERE conversation_id IS NOT NULL;
CREATE INDEX attachments_unattached ON attachments (created_at) WHERE seq IS NULL;

-- The bytes, in chunks, when the database is shared by several nodes; on a
-- single SQLite node the bytes live in files in the data directory and this
-- table stays empty.
CREATE TABLE attachment_chunks (
    attachment_id TEXT NOT NULL,
    part          TEXT NOT NULL,
    chunk         INTEGER NOT NULL,
    data          BLOB NOT NULL,
    PRIMARY KEY (attachment_id, part, chunk)
) WITHOUT ROWID;
