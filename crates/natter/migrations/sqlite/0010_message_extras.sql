-- `extras` is 1 once a message has had a reaction or an attachment, so a
-- history page looks for those only where there may be some: the two lookups
-- per message were some 15% of a page's statement, and most messages never
-- have either. It is set by the send that attaches files and by every
-- reaction change, and never cleared: a message whose last reaction is taken
-- back keeps its 1 and costs the lookups it cost before, while a 0 that hid a
-- reaction would be wrong. The same column on PostgreSQL keeps the two
-- schemas alike.
ALTER TABLE messages ADD COLUMN extras INTEGER NOT NULL DEFAULT 0;

UPDATE messages SET extras = 1
WHERE EXISTS (SELECT 1 FROM reactions r
              WHERE r.conversation_id = messages.conversation_id AND r.seq = messages.seq)
   OR EXISTS (SELECT 1 FROM attachments a
              WHERE a.conversation_id = messages.conversation_id AND a.seq = messages.seq);
