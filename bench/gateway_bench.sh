#!/usr/bin/env bash
# Throughput, p50 and p99 of the gateway's /api/v1/cluster/status and /metrics (both served from
# the newest snapshot rendered once; target p99 < 5 ms), beside etcd's own /metrics in the same
# run: wrk, loopback, 2 threads, CONNECTIONS (64) connections, DURATION (20s) each. With wrk on
# the same 2 cores, 64 closed-loop connections saturate the gateway: its latency is then the queue
# (connections / throughput); a smaller CONNECTIONS shows the time of one request.
# Starts one etcd member, a collector, an aggregator and the gateway in a temp dir.
#   bench/gateway_bench.sh [build-dir]      (default: build; GATEWAY_ARGS adds gateway flags)
# wrk sends "Connection: keep-alive": Pistache 0.0.5 closes HTTP/1.1 connections without it.
set -euo pipefail
command -v wrk >/dev/null || { echo "wrk is missing: scripts/setup.sh installs it (apt-get install wrk)"; exit 1; }
BUILD=${1:-build}
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-64}
BASE=${BASE_PORT:-$((20000 + RANDOM % 20000))}
ETCD_CLIENT=$BASE; ETCD_PEER=$((BASE + 1)); INGEST=$((BASE + 2)); PUB=$((BASE + 3))
GRPC=$((BASE + 4)); API=$((BASE + 5))
DIR=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT

etcd --name bench --data-dir "$DIR/etcd" --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT" \
  --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT" --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" \
  --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
  --initial-cluster "bench=http://127.0.0.1:$ETCD_PEER" >"$DIR/etcd.log" 2>&1 & pids+=($!)
"$BUILD/aggregator/etcd-monitor-aggregator" --listen="tcp://127.0.0.1:$INGEST" \
  --publish="tcp://127.0.0.1:$PUB" --grpc-listen="127.0.0.1:$GRPC" --db="$DIR/history.db" \
  --metrics-interval=1s --log-level=warn >"$DIR/aggregator.log" 2>&1 & pids+=($!)
"$BUILD/collector/etcd-monitor-collector" --endpoints="127.0.0.1:$ETCD_CLIENT" \
  --aggregator="tcp://127.0.0.1:$INGEST" --metrics-interval=1s --state-file="$DIR/c.seq" \
  --log-level=warn >"$DIR/collector.log" 2>&1 & pids+=($!)
"$BUILD/gateway/etcd-monitor-gateway" --api-host=127.0.0.1 --api-port="$API" \
  --aggregator="127.0.0.1:$GRPC" --alerter "" --snapshots="tcp://127.0.0.1:$PUB" \
  --log-level=warn ${GATEWAY_ARGS:-} >"$DIR/gateway.log" 2>&1 & pids+=($!)

for _ in $(seq 1 300); do
  curl -sf "http://127.0.0.1:$API/api/v1/cluster/status" >/dev/null && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$API/api/v1/cluster/status" >/dev/null || { echo "gateway has no data"; exit 1; }

run() {
  local name=$1 url=$2
  local out
  out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -H "Connection: keep-alive" "$url")
  printf '%-28s %12s req/s   p50 %s   p99 %s   (%s bytes/response)\n' "$name" \
    "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$(awk '$1 == "50%" {print $2}' <<<"$out")" \
    "$(awk '$1 == "99%" {print $2}' <<<"$out")" "$(curl -s "$url" | wc -c)"
}
echo "wrk -t2 -c$CONNECTIONS -d$DURATION, loopback, $(nproc) cores"
run "gateway /api/v1/cluster/status" "http://127.0.0.1:$API/api/v1/cluster/status"
run "gateway /metrics" "http://127.0.0.1:$API/metrics"
run "etcd /metrics" "http://127.0.0.1:$ETCD_CLIENT/metrics"
