-- Message search and per-conversation mutes.
--
-- Search: an FTS5 index with the trigram tokenizer, which matches any substring
-- of three or more characters, also inside Korean words, case-insensitively.
-- `messages` is WITHOUT ROWID, so each text message gets an integer key in
-- `message_search_keys` (in insertion order, so a larger key is a newer
-- message); the FTS row's rowid is that key. The FTS table is contentless (the
-- text lives in `messages` already) with contentless_delete, so edits and
-- deletes can remove a row. Triggers keep it current in the same transaction
-- as every insert, edit and delete, whoever writes.
CREATE TABLE message_search_keys (
    id              INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    UNIQUE (conversation_id, seq)
);
CREATE VIRTUAL TABLE message_search USING fts5 (
    msg, tokenize = 'trigram', content = '', contentless_delete = 1
);

INSERT INTO message_search_keys (conversation_id, seq)
SELECT conversation_id, seq FROM messages WHERE type = 'text'
ORDER BY created_at, conversation_id, seq;
INSERT INTO message_search (rowid, msg)
SELECT k.id, m.msg
FROM message_search_keys k
JOIN messages m ON m.conversation_id = k.conversation_id AND m.seq = k.seq
WHERE m.deleted_at IS NULL;

CREATE TRIGGER message_search_insert AFTER INSERT ON messages
WHEN NEW.type = 'text'
BEGIN
    INSERT INTO message_search_keys (conversation_id, seq) VALUES (NEW.conversation_id, NEW.seq);
    INSERT INTO message_search (rowid, msg)
    SELECT last_insert_rowid(), NEW.msg WHERE NEW.deleted_at IS NULL;
END;

-- An edit replaces the indexed text; a delete (which empties `msg` and sets
-- `deleted_at`) only removes it.
CREATE TRIGGER message_search_update AFTER UPDATE OF msg, deleted_at ON messages
WHEN NEW.type = 'text'
BEGIN
    DELETE FROM message_search WHERE rowid = (
        SELECT id FROM message_search_keys
        WHERE conversation_id = NEW.conversation_id AND seq = NEW.seq);
    INSERT INTO message_search (rowid, msg)
    SELECT id, NEW.msg FROM message_search_keys
    WHERE conversation_id = NEW.conversation_id AND seq = NEW.seq AND NEW.deleted_at IS NULL;
END;

CREATE TRIGGER message_search_delete AFTER DELETE ON messages
WHEN OLD.type = 'text'
BEGIN
    DELETE FROM message_search WHERE rowid = (
        SELECT id FROM message_search_keys
        WHERE conversation_id = OLD.conversation_id AND seq = OLD.seq);
    DELETE FROM message_search_keys
    WHERE conversation_id = OLD.conversation_id AND seq = OLD.seq;
END;

-- Conversations a user muted: no desktop notification, not in the unread
-- total. A row of its own rather than a member column, since the lobby has no
-- member rows.
CREATE TABLE conversation_mutes (
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    user_id         TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (conversation_id, user_id)
) WITHOUT ROWID;
