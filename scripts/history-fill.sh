#!/usr/bin/env bash
# Bulk fill of the history conversation, straight into the target's database (SQL).
# Called by natter-bench (`history --fill-cmd`) after it has registered the two users,
# opened their direct conversation and sent a few messages through the API:
#
#   history-fill.sh natter-sqlite  $NATTER_DATA_DIR/natter.db
#   history-fill.sh natter-pg      postgres://postgres@127.0.0.1:5432/natter_bench...
#   history-fill.sh peer           postgres://postgres@127.0.0.1:5432/natter_peer_bench...
#
# Environment (set by natter-bench): NB_CONV (conversation id), NB_USER0 / NB_USER1
# (user ids), NB_K (the wanted number of messages).
#
# It appends seq L+1..K, L being the conversation's last_seq, so seq stays gapless 1..K;
# seq s is sent by NB_USER0 when s is odd, NB_USER1 when even (alternating, as the tool's
# API sends); client ids unique per sender; created_at = max(now, last activity) + (s - L)
# ms, strictly increasing; msg a ~30-80 char sentence. The conversation's last_seq and
# last-activity column move in the same transaction as the rows.
# - natter (both databases): `natter-bench fill` (crates/natter-bench/src/fill.rs) also
#   numbers `rev` on from last_rev and lets natter's own triggers / GIN index keep the
#   search index; SQLite in 50,000-row BEGIN IMMEDIATE transactions (the running server
#   waits on its busy_timeout, WAL readers go on), PostgreSQL one UNNEST insert under
#   the conversation's row lock; then a WAL checkpoint / VACUUM (ANALYZE).
# - the peer: one INSERT ... SELECT over generate_series in one transaction, the
#   conversation row locked FOR UPDATE, checked first that max(seq) = last_seq, then
#   VACUUM (ANALYZE) of the two tables, so that the reads are not measured against a
#   table whose hint bits and visibility map are still unset.
set -euo pipefail
target=$1 db=$2
: "${NB_CONV:?}" "${NB_USER0:?}" "${NB_USER1:?}" "${NB_K:?}"

case $target in
natter-sqlite | natter-pg)
  # natter's schema (rev, the FTS5 search triggers, which python's SQLite 3.40 cannot
  # write) is filled by natter-bench itself, through sqlx: see crates/natter-bench/src/fill.rs
  : "${BENCH_BIN:?BENCH_BIN (natter-bench) must be set}"
  NB_USERS="$NB_USER0,$NB_USER1" "$BENCH_BIN" fill --db "$db"
  ;;
peer)
  act=last_activity
  cols="conversation_id, seq, sender_id, msg, client_id, created_at"
  idexpr=""
  u0=":'u0'::bigint" u1=":'u1'::bigint"
  psql "$db" -v ON_ERROR_STOP=1 -qAt -v conv="$NB_CONV" -v u0="$NB_USER0" -v u1="$NB_USER1" -v k="$NB_K" <<SQL
BEGIN;
SELECT last_seq AS first,
       greatest((extract(epoch FROM clock_timestamp()) * 1000)::bigint, $act) AS base
  FROM conversations WHERE id = :'conv' FOR UPDATE \gset
SELECT coalesce(max(seq), 0) = :first AS consistent FROM messages WHERE conversation_id = :'conv' \gset
\if :consistent
\else
  SELECT 1 / 0 AS "history-fill: max(seq) differs from last_seq, not filling";
\endif
INSERT INTO messages ($cols)
SELECT :'conv', s, $idexpr
       CASE WHEN s % 2 = 1 THEN $u0 ELSE $u1 END,
       (ARRAY['ok, see you at', 'did you read', 'I think we should move', 'can you send me',
              'just pushed', 'any news about', 'remind me about'])[1 + s % 7]
         || ' ' ||
       (ARRAY['the meeting notes', 'the new build of natter', 'tomorrow at 10',
              'the report from last week', 'my draft, comments welcome',
              'the numbers for the history run'])[1 + (s / 7) % 6]
         || ' (#' || s || ')',
       'bulk-' || s,
       :base + (s - :first)
  FROM generate_series(:first + 1, greatest(:k, :first)) AS s;
UPDATE conversations SET last_seq = greatest(:k, :first), $act = :base + (greatest(:k, :first) - :first)
 WHERE id = :'conv';
COMMIT;
VACUUM (ANALYZE) messages, conversations;
SQL
  echo "history-fill: $target filled to seq $NB_K" >&2
  ;;
*) echo "history-fill.sh: unknown target $target" >&2; exit 2 ;;
esac
