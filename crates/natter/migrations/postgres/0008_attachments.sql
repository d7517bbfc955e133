-- Uploaded files. A row is an upload until a send attaches it (conversation_id,
-- seq and position set, in the send's transaction); unattached rows older than
-- the upload TTL are swept. Deleting the message deletes its rows.
CREATE TABLE attachments (
    id              TEXT PRIMARY KEY,
    uploader_id     TEXT NOT NULL REFERENCES users (id),
    name            TEXT NOT NULL,
    content_type    TEXT NOT NULL,
    size            BIGINT NOT NULL,
    width           BIGINT,
    height          BIGINT,
    has_thumb       BIGINT NOT NULL DEFAULT 0,
    conversation_id TEXT,
    seq             BIGINT,
    position        BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX attachments_by_message ON attachments (conversation_id, seq)
    WHERE conversation_id IS NOT NULL;
CREATE INDEX attachments_unattached ON attachments (created_at) WHERE seq IS NULL;

-- The bytes, in chunks of up to 1 MiB, so every node sharing the database can
-- serve every attachment and a range read fetches only the chunks it needs.
CREATE TABLE attachment_chunks (
    attachment_id TEXT NOT NULL,
    part          TEXT NOT NULL,
    chunk         BIGINT NOT NULL,
    data          BYTEA NOT NULL,
    PRIMARY KEY (attachment_id, part, chunk)
);
