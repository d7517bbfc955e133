-- Search reads the newest live text messages first, by this index, and turns
-- to the trigram index only when they do not fill a page: a common word then
-- costs a short walk instead of fetching and sorting every one of its matches.
CREATE INDEX messages_by_search_key ON messages (search_key)
    WHERE type = 'text' AND deleted_at IS NULL;
