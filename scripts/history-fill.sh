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
# It appends seq L+1..K, L being the conversation's last_seq (it checks first that
# max(seq) = last_seq), so seq stays gapless 1..K; seq s is sent by NB_USER0 when s is
# odd, NB_USER1 when even (alternating, as the tool's API sends); client_id 'bulk-<s>'
# (unique per sender); created_at = max(now, last activity) + (s - L) ms, strictly
# increasing; msg a ~30-80 char sentence; natter's id is md5(conversation:seq) (32 hex,
# like natter's random ids; the peer's id is its bigserial). Then conversations.last_seq
# = K and the last-activity column (natter: last_activity_at, peer: last_activity) = the
# newest created_at, in the same transaction as the rows. SQLite: python3's sqlite3,
# 100,000 rows per transaction (BEGIN IMMEDIATE; the running server waits on its
# busy_timeout, WAL readers are not blocked). PostgreSQL: one INSERT ... SELECT over
# generate_series in one transaction, the conversation row locked FOR UPDATE, then
# VACUUM (ANALYZE) of the two tables, so that the reads are not measured against a table
# whose hint bits and visibility map are still unset, and autovacuum does not start
# processing 1M fresh rows in the middle of the measurement. SQLite: a passive WAL
# checkpoint at the end.
set -euo pipefail
target=$1 db=$2
: "${NB_CONV:?}" "${NB_USER0:?}" "${NB_USER1:?}" "${NB_K:?}"

case $target in
natter-sqlite)
  python3 - "$db" <<'PY'
import os, sqlite3, sys, time
db = sys.argv[1]
conv, u0, u1, k = os.environ["NB_CONV"], os.environ["NB_USER0"], os.environ["NB_USER1"], int(os.environ["NB_K"])
A = ["ok, see you at", "did you read", "I think we should move", "can you send me",
     "just pushed", "any news about", "remind me about"]
B = ["the meeting notes", "the new build of natter", "tomorrow at 10",
     "the report from last week", "my draft, comments welcome",
     "the numbers for the history run"]
def text(s):
    return f"{A[s % 7]} {B[(s // 7) % 6]} (#{s})"
con = sqlite3.connect(db, timeout=60, isolation_level=None)
con.execute("PRAGMA busy_timeout = 60000")
BATCH = 100_000
t0 = time.time()
first = None
while True:
    con.execute("BEGIN IMMEDIATE")
    last, act = con.execute(
        "SELECT last_seq, last_activity_at FROM conversations WHERE id = ?", (conv,)).fetchone()
    mx = con.execute("SELECT coalesce(max(seq), 0) FROM messages WHERE conversation_id = ?",
                     (conv,)).fetchone()[0]
    if mx != last:
        con.execute("ROLLBACK")
        sys.exit(f"history-fill: max(seq) {mx} != last_seq {last}; not filling")
    if first is None:
        first = last
        base = max(int(time.time() * 1000), act)
    if last >= k:
        con.execute("ROLLBACK")
        break
    end = min(k, last + BATCH)
    rows = [(conv, s, os.urandom(16).hex(), u0 if s % 2 == 1 else u1, text(s), f"bulk-{s}",
             base + (s - first)) for s in range(last + 1, end + 1)]
    con.executemany("INSERT INTO messages (conversation_id, seq, id, sender_id, msg, client_id, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    con.execute("UPDATE conversations SET last_seq = ?, last_activity_at = ? WHERE id = ?",
                (end, base + (end - first), conv))
    con.execute("COMMIT")
    print(f"history-fill: sqlite seq {end}/{k} ({time.time() - t0:.1f}s)", file=sys.stderr)
con.execute("PRAGMA wal_checkpoint(PASSIVE)")
con.close()
PY
  ;;
natter-pg | peer)
  if [[ $target == natter-pg ]]; then
    act=last_activity_at
    cols="conversation_id, seq, id, sender_id, msg, client_id, created_at"
    idexpr="md5(:'conv' || ':' || s),"
    u0=":'u0'" u1=":'u1'"
  else
    act=last_activity
    cols="conversation_id, seq, sender_id, msg, client_id, created_at"
    idexpr=""
    u0=":'u0'::bigint" u1=":'u1'::bigint"
  fi
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
