#!/usr/bin/env bash
# Benchmarks natter against the Node.js peer, in one run, under identical parameters:
#   natter-sqlite  target/release/natter, SQLite in a fresh temp data dir
#   natter-pg      target/release/natter with DATABASE_URL=$PG/natter_bench (recreated)
#   peer           shared/peers/seed-node (Node.js + socket.io + PostgreSQL), NODE_ENV=production
# Every server is started fresh for every scenario, pinned to core $SERVER_CPU; the load
# tool (crates/natter-bench) runs pinned to core $LOAD_CPU. Results: JSON per run and a
# markdown table with natter/peer ratios in $OUT/results.md.
#
#   scripts/bench.sh                    # full run
#   QUICK=1 scripts/bench.sh            # smoke run with tiny numbers (< 1 min per target)
#   TARGETS="peer" SCENARIOS="idle login" scripts/bench.sh
#
# Parameters (env, defaults in brackets; QUICK=1 changes the defaults):
#   TARGETS [natter-sqlite natter-pg peer]   SCENARIOS [throughput latency idle history login
#     fanout-lobby fanout-group catchup search upload]
#   PAIRS [50] MSGS [1000] WINDOW [16] SIZE [64]            throughput (saturated)
#   LAT_PAIRS [20] LAT_MSGS [300]                           latency: throughput with window 1, both users of each pair sending (light load)
#   IDLE_CONNS [10000] IDLE_USERS [100: 100 sockets per user; natter's per-user socket cap is lifted] IDLE_HOLD [10] IDLE_CONNECT_Q [64]  idle
#   HISTORY_K [100000] HISTORY_D [20] HISTORY_Q [16] HISTORY_FILL_Q [32]  history
#   LOGIN_D [15] LOGIN_Q [8]                                 login
#   FAN_MEMBERS [256] FAN_MSGS [300] FAN_WINDOW [4]          fanout-group (natter), fanout-lobby (all)
#   CATCHUP_N [10000]                                        catchup (natter)
#   SEARCH_K [1000000] SEARCH_C [1000] SEARCH_REPEAT [200]   search (natter)
#   UPLOAD_P [10] UPLOAD_MIB [25] UPLOAD_ROUNDS [3]          upload (natter)
#   The peer has no groups, rev, search or attachments: fanout-group, catchup, search and
#   upload run on natter only; the table compares fanout-group with the peer's lobby.
#   HISTORY_KEEP [0]  1 = keep the history stores in $STATE_DIR and reuse them next run
#   HISTORY_FILL [sql when HISTORY_K > 20000, else api]   how the history conversation is filled:
#     api  every message through POST .../messages, HISTORY_FILL_Q in flight (the peer stores
#          only 250-700/s on one conversation: 1,000,000 messages would take ~50 min there)
#     sql  natter-bench registers the two users, opens the conversation and sends
#          HISTORY_FILL_API [10] messages through the API (one at a time, alternating senders),
#          then runs scripts/history-fill.sh, which inserts seq last_seq+1..K straight into the
#          target's database: natter-sqlite via python3 sqlite3 into $NATTER_DATA_DIR/natter.db
#          (100k rows per transaction, server running, WAL), natter-pg and peer via psql,
#          INSERT ... SELECT FROM generate_series in one transaction. Same invariants as the
#          API: seq gapless 1..K, senders alternate, unique (sender, clientId), increasing
#          created_at, conversations.last_seq = K and the last-activity column updated.
#          The tool then checks through the API that GET .../messages (no cursor) returns
#          seq K-49..K and ?after=0&limit=1 returns seq 1 (`endsChecked` in the JSON).
#          1,000,000 messages: well under a minute per target.
#   HEAP [0]  1 = after each natter target's idle scenario, run it once more under heaptrack and
#     print where a held socket's bytes are: the allocations still live while the sockets are held
#     (the server is killed with SIGKILL during the hold, so nothing is freed), by call site,
#     divided by the sockets connected; HEAP_TOP [15] sites. Written to $OUT/<target>-idle-heap.md,
#     the profile to $OUT/heaptrack-<target>-idle.*. Needs heaptrack (apt-get install heaptrack).
#     heaptrack slows the server down: the heap run's connect rate and RSS are not results.
#   PORT [3190] SERVER_CPU [0] LOAD_CPU [1] OUT [target-bench/results/<time>]
#   NATTER_BIN [target/release/natter] BENCH_BIN [target-bench/release/natter-bench]
#   PEER_SRC [../shared/peers/seed-node] PG [postgres://postgres@127.0.0.1:5432]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then
  d_pairs=4 d_msgs=100 d_lpairs=2 d_lmsgs=50 d_conns=200 d_users=10 d_hold=1 d_hk=300 d_hd=2 d_ld=2 d_lq=4
  d_fan=16 d_fmsgs=20 d_cn=200 d_sk=20000 d_sc=20 d_sr=10 d_up=2 d_umib=2 d_ur=1
else
  d_pairs=50 d_msgs=1000 d_lpairs=20 d_lmsgs=300 d_conns=10000 d_users=100 d_hold=10 d_hk=100000 d_hd=20 d_ld=15 d_lq=8
  d_fan=256 d_fmsgs=300 d_cn=10000 d_sk=1000000 d_sc=1000 d_sr=200 d_up=10 d_umib=25 d_ur=3
fi
TARGETS=${TARGETS:-"natter-sqlite natter-pg peer"}
SCENARIOS=${SCENARIOS:-"throughput latency idle history login fanout-lobby fanout-group catchup search upload"}
PAIRS=${PAIRS:-$d_pairs} MSGS=${MSGS:-$d_msgs} WINDOW=${WINDOW:-16} SIZE=${SIZE:-64}
LAT_PAIRS=${LAT_PAIRS:-$d_lpairs} LAT_MSGS=${LAT_MSGS:-$d_lmsgs}
IDLE_CONNS=${IDLE_CONNS:-$d_conns} IDLE_USERS=${IDLE_USERS:-$d_users} IDLE_HOLD=${IDLE_HOLD:-$d_hold} IDLE_CONNECT_Q=${IDLE_CONNECT_Q:-64}
HISTORY_K=${HISTORY_K:-$d_hk} HISTORY_D=${HISTORY_D:-$d_hd} HISTORY_Q=${HISTORY_Q:-16} HISTORY_FILL_Q=${HISTORY_FILL_Q:-32}
HISTORY_KEEP=${HISTORY_KEEP:-0} HISTORY_FILL_API=${HISTORY_FILL_API:-10}
HEAP=${HEAP:-0} HEAP_TOP=${HEAP_TOP:-15}
if [[ -z ${HISTORY_FILL:-} ]]; then
  if (( HISTORY_K > 20000 )); then HISTORY_FILL=sql; else HISTORY_FILL=api; fi
fi
[[ $HISTORY_FILL == sql || $HISTORY_FILL == api ]] || { echo "HISTORY_FILL must be sql or api" >&2; exit 1; }
LOGIN_D=${LOGIN_D:-$d_ld} LOGIN_Q=${LOGIN_Q:-$d_lq}
FAN_MEMBERS=${FAN_MEMBERS:-$d_fan} FAN_MSGS=${FAN_MSGS:-$d_fmsgs} FAN_WINDOW=${FAN_WINDOW:-4}
CATCHUP_N=${CATCHUP_N:-$d_cn}
SEARCH_K=${SEARCH_K:-$d_sk} SEARCH_C=${SEARCH_C:-$d_sc} SEARCH_REPEAT=${SEARCH_REPEAT:-$d_sr}
UPLOAD_P=${UPLOAD_P:-$d_up} UPLOAD_MIB=${UPLOAD_MIB:-$d_umib} UPLOAD_ROUNDS=${UPLOAD_ROUNDS:-$d_ur}
PORT=${PORT:-3190} SERVER_CPU=${SERVER_CPU:-0} LOAD_CPU=${LOAD_CPU:-1}
NATTER_BIN=${NATTER_BIN:-$ROOT/target/release/natter}
BENCH_BIN=${BENCH_BIN:-$ROOT/target-bench/release/natter-bench}
export BENCH_BIN # scripts/history-fill.sh fills natter's databases with it
PEER_SRC=${PEER_SRC:-$ROOT/../shared/peers/seed-node}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
STATE_DIR=${STATE_DIR:-/var/tmp/natter-bench-state}
OUT=${OUT:-$ROOT/target-bench/results/$(date -u +%Y%m%dT%H%M%SZ)}
URL=http://127.0.0.1:$PORT

mkdir -p "$OUT"
LOG=$OUT/bench.log
log() { echo "[bench $(date -u +%H:%M:%S)] $*" | tee -a "$LOG" >&2; }

if [[ ! -x $BENCH_BIN ]]; then
  log "building natter-bench"
  (cd "$ROOT" && CARGO_TARGET_DIR=$ROOT/target-bench cargo build --release -p natter-bench)
fi
# thousands of sockets: the servers (children of this shell) need the file descriptors too
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if ss -ltn "sport = :$PORT" | grep -q LISTEN; then
  echo "port $PORT is busy; set PORT=" >&2; exit 1
fi

WORK=$(mktemp -d /tmp/natter-bench.XXXXXX)
SERVER_PID=
SERVER_DB= # the running server's database: SQLite file or PostgreSQL URL (history-fill.sh)
WRAP=()    # runs natter under this command (heaptrack for HEAP=1)
stop_server() {
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=
}
cleanup() { stop_server; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

psql_admin() { psql "$PG/postgres" -v ON_ERROR_STOP=1 -qAtc "$1" >/dev/null; }
db_exists() { [[ $(psql "$PG/postgres" -qAtc "select 1 from pg_database where datname='$1'") == 1 ]]; }

PEER_DIR=
prepare_peer() {
  [[ -n $PEER_DIR ]] && return 0
  PEER_DIR=$WORK/peer
  cp -r "$PEER_SRC" "$PEER_DIR"
  log "npm ci for the peer"
  (cd "$PEER_DIR" && npm ci --no-audit --no-fund --loglevel=error >>"$LOG" 2>&1)
}

# start_server TARGET SCENARIO: starts a fresh server, sets SERVER_PID, waits until it answers
# natter's per-user socket cap (20) and connection cap (10,000) protect a public server;
# the idle scenario puts ~100 sockets on each user and 10,000 sockets on one node (0: no cap)
NATTER_LIMITS=(NATTER_RATE_LIMITS=off NATTER_MAX_SOCKETS_PER_USER=0 NATTER_MAX_CONNECTIONS=100000)
start_server() {
  local target=$1 scenario=$2 keep=0 slog=$OUT/server-$1-$2.log
  [[ $scenario == history && $HISTORY_KEEP == 1 ]] && keep=1
  case $target in
    natter-sqlite)
      local data=$WORK/data-$scenario
      if [[ $keep == 1 ]]; then data=$STATE_DIR/natter-sqlite-data; fi
      mkdir -p "$data"
      SERVER_DB=$data/natter.db
      env NATTER_ADDR=127.0.0.1:$PORT NATTER_DATA_DIR=$data "${NATTER_LIMITS[@]}" \
        taskset -c "$SERVER_CPU" "${WRAP[@]}" "$NATTER_BIN" >"$slog" 2>&1 &
      SERVER_PID=$! ;;
    natter-pg)
      local db=natter_bench data=$WORK/data-$scenario
      if [[ $keep == 1 ]]; then db=natter_bench_history; data=$STATE_DIR/natter-pg-data; fi
      if [[ $keep == 0 ]]; then psql_admin "drop database if exists $db with (force)"; fi
      db_exists "$db" || psql_admin "create database $db"
      mkdir -p "$data"
      SERVER_DB=$PG/$db
      env NATTER_ADDR=127.0.0.1:$PORT NATTER_DATA_DIR=$data "${NATTER_LIMITS[@]}" DATABASE_URL=$PG/$db \
        taskset -c "$SERVER_CPU" "${WRAP[@]}" "$NATTER_BIN" >"$slog" 2>&1 &
      SERVER_PID=$! ;;
    peer)
      prepare_peer
      local db=natter_peer_bench reset=1
      if [[ $keep == 1 ]]; then db=natter_peer_bench_history; reset=; fi
      SERVER_DB=$PG/$db
      (cd "$PEER_DIR" && NODE_ENV=production RESET=$reset PORT=$PORT DATABASE_URL=$PG/$db \
        exec taskset -c "$SERVER_CPU" node server.mjs >"$slog" 2>&1) &
      SERVER_PID=$! ;;
    *) echo "unknown target $target" >&2; return 1 ;;
  esac
  for _ in $(seq 300); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      log "$target exited at start:"; tail -20 "$slog" >&2; SERVER_PID=; return 1
    fi
    # natter is ready when /healthz answers 200; the peer has no /healthz (any answer will do)
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$URL/healthz" || true)
    if [[ $target == peer && $code != 000 && -n $code ]] || [[ $code == 200 ]]; then return 0; fi
    sleep 0.2
  done
  log "$target did not come up in 60 s"; tail -20 "$slog" >&2; stop_server; return 1
}

bench() { # bench TARGET SCENARIO ARGS...
  local target=$1 scenario=$2; shift 2
  local cmd=$scenario
  [[ $scenario == latency ]] && cmd=throughput
  [[ $scenario == fanout-* ]] && cmd=fanout
  taskset -c "$LOAD_CPU" "$BENCH_BIN" --url "$URL" --label "$target" \
    --json "$OUT/$target-$scenario.json" "$cmd" "$@" 2>&1 | tee -a "$LOG" >&2
}

run_scenario() {
  local target=$1 scenario=$2
  case $scenario in
    throughput) bench "$target" throughput -n "$PAIRS" -m "$MSGS" -w "$WINDOW" --size "$SIZE" ;;
    latency) bench "$target" latency -n "$LAT_PAIRS" -m "$LAT_MSGS" -w 1 --both-sides --size "$SIZE" ;;
    idle) bench "$target" idle -c "$IDLE_CONNS" -u "$IDLE_USERS" --hold "$IDLE_HOLD" --connect-concurrency "$IDLE_CONNECT_Q" --server-pid "$SERVER_PID" ;;
    history)
      local state=()
      if [[ $HISTORY_KEEP == 1 ]]; then mkdir -p "$STATE_DIR"; state=(--state "$STATE_DIR/$target-history.json"); fi
      local fill=()
      if [[ $HISTORY_FILL == sql ]]; then
        fill=(--fill-api "$HISTORY_FILL_API" --fill-cmd "$(printf '%q ' "$ROOT/scripts/history-fill.sh" "$target" "$SERVER_DB")")
      fi
      bench "$target" history -k "$HISTORY_K" -d "$HISTORY_D" -q "$HISTORY_Q" --fill-concurrency "$HISTORY_FILL_Q" --server-pid "$SERVER_PID" "${fill[@]}" "${state[@]}" ;;
    login) bench "$target" login -d "$LOGIN_D" -q "$LOGIN_Q" ;;
    fanout-lobby) bench "$target" fanout-lobby --lobby --members "$FAN_MEMBERS" -m "$FAN_MSGS" -w "$FAN_WINDOW" ;;
    fanout-group) bench "$target" fanout-group --members "$FAN_MEMBERS" -m "$FAN_MSGS" -w "$FAN_WINDOW" ;;
    catchup) bench "$target" catchup -n "$CATCHUP_N" ;;
    search) bench "$target" search -k "$SEARCH_K" -c "$SEARCH_C" --repeat "$SEARCH_REPEAT" --fill-db "$SERVER_DB" ;;
    upload) bench "$target" upload -p "$UPLOAD_P" --mib "$UPLOAD_MIB" --rounds "$UPLOAD_ROUNDS" --server-pid "$SERVER_PID" ;;
    *) echo "unknown scenario $scenario" >&2; return 1 ;;
  esac
}

# pid_of_exe PID EXE: PID or the first of its descendants that runs EXE (natter under heaptrack)
pid_of_exe() {
  local exe queue=("$1") p
  exe=$(readlink -f "$2")
  while ((${#queue[@]})); do
    p=${queue[0]}; queue=("${queue[@]:1}")
    if [[ $(readlink -f "/proc/$p/exe" 2>/dev/null) == "$exe" ]]; then echo "$p"; return 0; fi
    # shellcheck disable=SC2207
    queue+=($(pgrep -P "$p" || true))
  done
  return 1
}

# heap_profile TARGET: the idle scenario under heaptrack; prints the per-socket top allocations
heap_profile() {
  local target=$1 prof=$OUT/heaptrack-$1-idle blog=$OUT/$1-idle-heap.log
  if ! command -v heaptrack >/dev/null; then log "HEAP=1: heaptrack is not installed"; return 1; fi
  log "== $target / idle under heaptrack"
  rm -f "$prof".*
  WRAP=(heaptrack -o "$prof")
  if ! start_server "$target" idle-heap; then WRAP=(); return 1; fi
  WRAP=()
  local heaptrack_pid=$SERVER_PID natter_pid
  if ! natter_pid=$(pid_of_exe "$heaptrack_pid" "$NATTER_BIN"); then
    log "HEAP=1: natter not found under heaptrack"; stop_server; return 1
  fi
  taskset -c "$LOAD_CPU" "$BENCH_BIN" --url "$URL" --label "$target-heap" idle -c "$IDLE_CONNS" \
    -u "$IDLE_USERS" --hold "$((IDLE_HOLD + 5))" --connect-concurrency "$IDLE_CONNECT_Q" >"$blog" 2>&1 &
  local bench_pid=$!
  for _ in $(seq 3000); do
    grep -q 'holding' "$blog" && break
    kill -0 "$bench_pid" 2>/dev/null || break
    sleep 0.2
  done
  local held
  held=$(sed -n 's|^idle: \([0-9]*\)/[0-9]* connected.*|\1|p' "$blog" | tail -1)
  sleep "$(( IDLE_HOLD / 2 + 1 ))"
  # SIGKILL: the sockets are never freed, so what heaptrack sees live is what they hold.
  kill -9 "$natter_pid" 2>/dev/null || true
  wait "$heaptrack_pid" 2>/dev/null || true
  SERVER_PID=
  wait "$bench_pid" 2>/dev/null || true
  local file
  file=$(ls "$prof".* 2>/dev/null | head -1)
  if [[ -z $file || -z $held || $held == 0 ]]; then
    log "HEAP=1: no profile or no socket held (see $blog)"; return 1
  fi
  heaptrack_print -f "$file" -p 0 -a 0 -T 0 -l 1 >"$prof.leaks.txt" 2>/dev/null || true
  python3 - "$prof.leaks.txt" "$held" "$HEAP_TOP" "$target" >"$OUT/$target-idle-heap.md" <<'PY'
import re, sys
path, held, top, target = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
units = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3}
head = re.compile(r"^\s*([0-9.]+)([KMG]?)B? leaked over ([0-9]+) calls from(:?)$")
# heaptrack_print -l merges by allocating instruction; each "calls from:" block below one is
# a distinct backtrace (a site): its frames are "name" then "at file:line" (then "in binary").
sites, cur, name = [], None, None
for line in open(path, errors="replace"):
    m = head.match(line.rstrip())
    if m:
        cur = None
        if m.group(4):
            cur = {"bytes": float(m.group(1)) * units[m.group(2)], "calls": int(m.group(3)), "frames": []}
            sites.append(cur)
        continue
    if cur is None:
        continue
    t = line.strip()
    if t.startswith("at "):
        if name is not None:
            cur["frames"].append((name, t[3:]))
        name = None
    elif t and not t.startswith("in "):
        name = t
# the site: the first frames outside the allocation machinery (std's alloc, Box, Arc, Vec,
# hashbrown; tokio's task cell, so that a task is shown by what spawned it)
machinery = re.compile(r"^(/rustc/|library/|/rust/deps/)|tokio-[0-9.]+/src/runtime/task/|^src/runtime/task/")
def site(frames):
    own = [(n, f) for n, f in frames if not machinery.search(f)] or frames
    out = []
    for n, f in own[:3]:
        f = re.sub(r"^.*/registry/src/[^/]+/", "", f)
        out.append(f"{n} ({f})")
    return " ← ".join(out).replace("|", "\\|")
total = sum(s["bytes"] for s in sites)
sites.sort(key=lambda s: -s["bytes"])
print(f"### {target}: live heap per held socket, by allocation site\n")
print(f"heaptrack, {held} sockets held, server killed during the hold; live heap over all sites: "
      f"{total / held:,.0f} B per socket (what the server holds anyway is included, divided by the sockets; "
      f"malloc's own overhead, about 8-16 B per allocation, is not).\n")
print("| B per socket | allocations per socket | site (innermost first) |")
print("|---:|---:|---|")
for s in sites[:top]:
    print(f"| {s['bytes'] / held:,.0f} | {s['calls'] / held:.2f} | {site(s['frames'])} |")
PY
  cat "$OUT/$target-idle-heap.md" | tee -a "$LOG" >&2
}

# A VM's host can take CPU time from it ("steal" in /proc/stat): a run while it
# does measures the host as much as the servers. Each scenario logs its share.
cpu_ticks() { awk '/^cpu /{t=0; for (i=2; i<=NF; i++) t+=$i; print $9, t}' /proc/stat; }
steal_percent() { # "steal total" before, after
  local b=($1) a=($2)
  awk -v s=$((a[0] - b[0])) -v t=$((a[1] - b[1])) 'BEGIN { printf "%.1f", (t > 0 ? 100 * s / t : 0) }'
}
log "out: $OUT; targets: $TARGETS; scenarios: $SCENARIOS; QUICK=$QUICK; HISTORY_FILL=$HISTORY_FILL; HEAP=$HEAP"
for target in $TARGETS; do
  if [[ $target == natter-* && ! -x $NATTER_BIN ]]; then
    log "skipping $target: $NATTER_BIN missing (cargo build --release -p natter)"; continue
  fi
  for scenario in $SCENARIOS; do
    if [[ $target == peer && $scenario =~ ^(fanout-group|catchup|search|upload)$ ]]; then
      continue # the peer has no groups, rev, search or attachments
    fi
    log "== $target / $scenario"
    if start_server "$target" "$scenario"; then
      steal_before=$(cpu_ticks)
      run_scenario "$target" "$scenario" || log "FAILED: $target / $scenario"
      log "host steal during $target / $scenario: $(steal_percent "$steal_before" "$(cpu_ticks)")% of the CPU time (above a few %, the host starved this run: compare with care)"
      stop_server
    else
      log "FAILED to start $target"
    fi
    if [[ $HEAP == 1 && $scenario == idle && $target == natter-* ]]; then
      heap_profile "$target" || log "FAILED: $target / idle under heaptrack"
    fi
  done
done

# ---------- the table ----------
machine="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
params="FAN_MEMBERS=$FAN_MEMBERS FAN_MSGS=$FAN_MSGS FAN_WINDOW=$FAN_WINDOW CATCHUP_N=$CATCHUP_N SEARCH_K=$SEARCH_K SEARCH_C=$SEARCH_C UPLOAD_P=$UPLOAD_P UPLOAD_MIB=$UPLOAD_MIB PAIRS=$PAIRS MSGS=$MSGS WINDOW=$WINDOW SIZE=$SIZE LAT_PAIRS=$LAT_PAIRS LAT_MSGS=$LAT_MSGS IDLE_CONNS=$IDLE_CONNS IDLE_USERS=$IDLE_USERS IDLE_HOLD=$IDLE_HOLD IDLE_CONNECT_Q=$IDLE_CONNECT_Q HISTORY_K=$HISTORY_K HISTORY_D=$HISTORY_D HISTORY_Q=$HISTORY_Q HISTORY_FILL=$HISTORY_FILL LOGIN_D=$LOGIN_D LOGIN_Q=$LOGIN_Q"
python3 - "$OUT" "$machine" "$params" >"$OUT/results.md" <<'PY'
import json, os, sys
out, machine, params = sys.argv[1], sys.argv[2], sys.argv[3]
targets = ["natter-sqlite", "natter-pg", "peer"]
def load(t, s):
    p = os.path.join(out, f"{t}-{s}.json")
    try:
        with open(p) as f: return json.load(f)
    except Exception: return None
def get(d, path):
    for k in path.split("."):
        if not isinstance(d, dict) or d.get(k) is None: return None
        d = d[k]
    return d
# (scenario, label, json path, "up" = higher is better / "down")
rows = [
    ("throughput", "acked messages/s", "msgsPerSec", "up"),
    ("throughput", "ack latency p50 (ms)", "ackLatencyMs.p50", "down"),
    ("throughput", "ack latency p99 (ms)", "ackLatencyMs.p99", "down"),
    ("throughput", "ack latency max (ms)", "ackLatencyMs.max", "down"),
    ("throughput", "delivery latency p50 (ms)", "deliveryLatencyMs.p50", "down"),
    ("throughput", "delivery latency p99 (ms)", "deliveryLatencyMs.p99", "down"),
    ("throughput", "lost / duplicated / out-of-order", None, None),
    ("latency", "light load (window 1): messages/s", "msgsPerSec", "up"),
    ("latency", "light load: ack latency p50 (ms)", "ackLatencyMs.p50", "down"),
    ("latency", "light load: ack latency p99 (ms)", "ackLatencyMs.p99", "down"),
    ("latency", "light load: delivery latency p50 (ms)", "deliveryLatencyMs.p50", "down"),
    ("latency", "light load: delivery latency p99 (ms)", "deliveryLatencyMs.p99", "down"),
    ("latency", "lost / duplicated / out-of-order", None, None),
    ("idle", "connects/s", "connectsPerSec", "up"),
    ("idle", "server CPU per connect (µs)", "serverCpuMicrosPerConnect", "down"),
    ("idle", "load tool's CPU while connecting (1 = its whole core)", "toolCpuWhileConnecting", None),
    ("idle", "server memory per connection (KiB)", "kibPerConnection", "down"),
    ("idle", "errors (connect + dropped)", None, None),
    ("history", "messages in the conversation", "conversationMessages", None),
    ("history", "fill: HTTP sends/s", "fill.msgsPerSec", "up"),
    ("history", "fill: SQL rows/s (bulk fill)", "fill.sqlRowsPerSec", None),
    ("history", "pages/s (before=, 50 per page)", "reqPerSec", "up"),
    ("history", "page latency p50 (ms)", "latencyMs.p50", "down"),
    ("history", "page latency p99 (ms)", "latencyMs.p99", "down"),
    ("history", "server CPU per page (µs)", "serverCpuMicrosPerPage", "down"),
    ("history", "load tool's CPU while reading (1 = its whole core)", "toolCpuWhileReading", None),
    ("history", "one client: pages/s", "oneClient.reqPerSec", "up"),
    ("history", "one client: page latency p50 (ms)", "oneClient.latencyMs.p50", "down"),
    ("history", "one client: page latency p99 (ms)", "oneClient.latencyMs.p99", "down"),
    ("login", "sign-ins/s", "loginsPerSec", "up"),
    ("login", "sign-in latency p50 (ms)", "latencyMs.p50", "down"),
    ("login", "sign-in latency p99 (ms)", "latencyMs.p99", "down"),
    ("fanout-lobby", "lobby: messages/s reaching every socket", "msgsPerSec", "up"),
    ("fanout-lobby", "lobby: to the last socket p50 (ms)", "lastMemberLatencyMs.p50", "down"),
    ("fanout-lobby", "lobby: to the last socket p99 (ms)", "lastMemberLatencyMs.p99", "down"),
    ("fanout-lobby", "lost / duplicated / out-of-order", None, None),
    ("fanout-group", "group: messages/s reaching every member (peer: lobby)", "msgsPerSec", "up"),
    ("fanout-group", "group: to the last member p50 (ms) (peer: lobby)", "lastMemberLatencyMs.p50", "down"),
    ("fanout-group", "group: to the last member p99 (ms) (peer: lobby)", "lastMemberLatencyMs.p99", "down"),
    ("fanout-group", "lost / duplicated / out-of-order", None, None),
    ("catchup", "changes made while away", "params.changes", None),
    ("catchup", "sinceRev walk p50 (ms)", "walkMs.p50", None),
    ("catchup", "sinceRev walk max (ms)", "walkMs.max", None),
    ("catchup", "pages of 100 / messages", None, None),
    ("catchup", "same state as a full read", "sameAsFullRead", None),
    ("search", "messages searched", "params.messages", None),
    ("search", "korean 2 chars p50 / p99 (ms)", "korean 2 chars (채팅)", None),
    ("search", "korean 3 chars p50 / p99 (ms)", "korean 3 chars (회의실)", None),
    ("search", "english word p50 / p99 (ms)", "english word (meeting)", None),
    ("search", "english, other case p50 / p99 (ms)", "english, other case (MEETING)", None),
    ("search", "rare korean 2 chars p50 / p99 (ms)", "rare korean 2 chars", None),
    ("search", "rare english word p50 / p99 (ms)", "rare english word", None),
    ("upload", "upload MiB/s (parallel)", "uploadMiBPerSec", None),
    ("upload", "download MiB/s (parallel)", "downloadMiBPerSec", None),
    ("upload", "server RSS before / peak (MiB)", None, None),
]
# the peer has no groups: its lobby stands in
peer_scenario = {"fanout-group": "fanout-lobby"}
def fmt(v):
    if v is None: return "—"
    if isinstance(v, float): return f"{v:,.1f}" if abs(v) >= 100 else f"{v:.2f}"
    return f"{v:,}" if isinstance(v, int) else str(v)
def cell(t, s, label, path):
    d = load(t, peer_scenario.get(s, s) if t == "peer" else s)
    if d is None: return None
    if s == "search" and "p50 / p99" in label:
        q = d.get("queries", {}).get(path, {}).get("latencyMs", {})
        return f"{q.get('p50')} / {q.get('p99')}" if q else None
    if label.startswith("pages of"):
        return f"{d.get('pages')} / {d.get('messages')}"
    if label.startswith("server RSS"):
        return f"{d.get('rssBeforeMiB')} / {d.get('rssPeakMiB')}"
    if label.startswith("lost"):
        return f"{d.get('lost')} / {d.get('duplicated')} / {d.get('outOfOrder')}"
    if label.startswith("errors"):
        return f"{d.get('errors', 0) + d.get('droppedWhileHeld', 0)}"
    return get(d, path)
print("# natter vs the Node peer\n")
print(f"Machine: {machine}. Server pinned to one core, load tool to the other.  ")
print(f"Parameters: `{params}`\n")
print("Ratio = natter ÷ peer; for rates (↑) above 1 is better, for latency and memory (↓) below 1 is better.\n")
print("| scenario | metric | natter-sqlite | natter-pg | peer | sqlite/peer | pg/peer |")
print("|---|---|---:|---:|---:|---:|---:|")
for s, label, path, better in rows:
    vals = [cell(t, s, label, path) for t in targets]
    if all(v is None for v in vals): continue
    ratios = []
    for v in vals[:2]:
        p = vals[2]
        if better and isinstance(v, (int, float)) and isinstance(p, (int, float)) and p:
            ratios.append(f"{v / p:.2f}")
        else:
            ratios.append("—")
    arrow = {"up": " ↑", "down": " ↓"}.get(better, "")
    print(f"| {s} | {label}{arrow} | " + " | ".join(fmt(v) for v in vals) + " | " + " | ".join(ratios) + " |")
bad = []
for t in targets:
    for s in ["throughput", "latency", "idle", "history", "login", "fanout-lobby", "fanout-group", "catchup", "search", "upload"]:
        d = load(t, s)
        if d is not None and not d.get("ok", True):
            bad.append(f"{t}/{s}" + (f" ({d['lastError']})" if d.get("lastError") else ""))
if bad:
    print("\nNot clean (errors, losses or out-of-order deliveries; see the JSON files): " + ", ".join(bad))
PY
log "results: $OUT/results.md"
cat "$OUT/results.md"
