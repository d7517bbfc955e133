-- `extras` is 1 once a message has had a reaction or an attachment (see the
-- SQLite migration of the same name: there it spares a history page two
-- lookups per message). Set by the send that attaches files and by every
-- reaction change, never cleared; kept here so the two schemas stay alike.
ALTER TABLE messages ADD COLUMN extras BIGINT NOT NULL DEFAULT 0;

UPDATE messages m SET extras = 1
WHERE EXISTS (SELECT 1 FROM reactions r WHERE r.conversation_id = m.conversation_id AND r.seq = m.seq)
   OR EXISTS (SELECT 1 FROM attachments a WHERE a.conversation_id = m.conversation_id AND a.seq = m.seq);
