#!/usr/bin/env bash
# One aggregator and one gateway for a fleet: CLUSTERS (100) simulated clusters of MEMBERS (5)
# members, one collector each sending a sample every second (bench/fleet_sender, a process of
# its own), for DURATION_S (300) seconds. Reports every 30 s and at the end:
#   - ingest: batches sent, acknowledged, queued (a growing queue: the aggregator falls behind)
#     and dropped by the senders;
#   - the aggregator's tick cost (p50, p99, max of its latest 512 ticks: every cluster's model,
#     publish, history) and how many clusters its gateway lists, each with a snapshot of the
#     last 3 s (every model ticks each second);
#   - the aggregator's CPU (share of one core over the interval) and resident memory.
# Then GET /api/v1/clusters and /metrics under wrk (2 threads, CONNECTIONS (16) connections,
# 10 s each): requests/s, p50, p99.
#   bench/fleet_bench.sh [build-dir]      (needs build targets fleet_sender, the aggregator and
#                                          the gateway; wrk: scripts/setup.sh installs it)
set -euo pipefail
command -v wrk >/dev/null || { echo "wrk is missing: scripts/setup.sh installs it (apt-get install wrk)"; exit 1; }
BUILD=${1:-build}
CLUSTERS=${CLUSTERS:-100}
MEMBERS=${MEMBERS:-5}
DURATION_S=${DURATION_S:-300}
CONNECTIONS=${CONNECTIONS:-16}
BASE=${BASE_PORT:-$((20000 + RANDOM % 20000))}
INGEST=$BASE; PUB=$((BASE + 1)); GRPC=$((BASE + 2)); API=$((BASE + 3))
DIR=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null
  [ -n "${KEEP:-}" ] && echo "kept $DIR" || rm -rf "$DIR"
}
trap cleanup EXIT

"$BUILD/aggregator/etcd-monitor-aggregator" --listen="tcp://127.0.0.1:$INGEST" \
  --publish="tcp://127.0.0.1:$PUB" --grpc-listen="127.0.0.1:$GRPC" --db="$DIR/history.db" \
  --metrics-interval=1s --log-level=warn >"$DIR/aggregator.log" 2>&1 & pids+=($!)
AGG=$!
"$BUILD/gateway/etcd-monitor-gateway" --api-host=127.0.0.1 --api-port="$API" \
  --aggregator="127.0.0.1:$GRPC" --alerter "" --snapshots="tcp://127.0.0.1:$PUB" \
  --log-level=warn >"$DIR/gateway.log" 2>&1 & pids+=($!)
mkdir -p "$DIR/senders"
"$BUILD/bench/fleet_sender" "tcp://127.0.0.1:$INGEST" "$CLUSTERS" "$MEMBERS" "$DURATION_S" \
  "$DIR/senders" >"$DIR/sender.log" 2>&1 & pids+=($!)
SENDER=$!

# Clusters listed, and those whose snapshot is under 3 s old (their model ticked lately).
COUNT_FRESH='
import json, sys, time
d = json.load(sys.stdin)
now = time.time() * 1000
fresh = sum(1 for c in d["clusters"] if now - c.get("last_update_unix_ms", 0) < 3000)
print("clusters=%d fresh=%d" % (d["count"], fresh))'
ticks() { awk '{print $14 + $15}' "/proc/$AGG/stat"; }  # utime + stime, clock ticks
hz=$(getconf CLK_TCK)
report() {  # $1: seconds since the last report, $2: ticks then
  local now used rss health clusters fresh
  now=$(ticks)
  used=$(awk -v a="$2" -v b="$now" -v s="$1" -v hz="$hz" 'BEGIN{printf "%.1f", 100*(b-a)/hz/s}')
  rss=$(awk '/VmRSS/{printf "%.0f MB", $2/1024}' "/proc/$AGG/status")
  health=$(curl -sf "http://127.0.0.1:$API/health" | grep -o 'tick_p50_us=[0-9]* tick_p99_us=[0-9]* tick_max_us=[0-9]*' || true)
  clusters=$(curl -sf "http://127.0.0.1:$API/api/v1/clusters" | python3 -c "$COUNT_FRESH" 2>/dev/null || echo "clusters=?")
  echo "t=${SECONDS}s cpu=${used}% rss=${rss} ${health} ${clusters} $(tail -n1 "$DIR/sender.log")"
  LAST=$now
}

LAST=$(ticks)
elapsed=0
while kill -0 "$SENDER" 2>/dev/null && [ "$elapsed" -lt $((DURATION_S + 20)) ]; do
  sleep 30; elapsed=$((elapsed + 30))
  report 30 "$LAST"
done
wait "$SENDER" || { echo "fleet_sender failed: $(tail -n3 "$DIR/sender.log")"; exit 1; }
echo "final: $(tail -n1 "$DIR/sender.log")"

for path in /api/v1/clusters /metrics; do
  echo "== GET $path"
  wrk -t2 -c"$CONNECTIONS" -d10s --latency -H "Connection: keep-alive" \
    "http://127.0.0.1:$API$path" | grep -E 'Requests/sec|^ +50%|^ +99%'
done
