#!/usr/bin/env bash
# The product on a local 3-node etcd cluster: installs what is missing, builds, starts etcd on
# 2379/22379/32379 (data in ./.demo/), then the all-in-one etcd-monitor on it (REST API,
# /metrics and the web console on API_PORT, default 8080), and keeps running until Ctrl-C or
# SIGTERM (`kill PID`; a job started in the background with `&` ignores Ctrl-C's SIGINT), which
# stop everything this script started (the monitor first, then etcd).
# Env: API_PORT (8080), METRICS_INTERVAL (5s), BUILD_DIR (build), DEMO_DIR (.demo),
# ETCD_CLIENT_PORTS / ETCD_PEER_PORTS (see deploy/local/etcd-cluster.sh), ETCDMON_BIN_DIR (use
# the etcd-monitor binary there instead of installing and building; the tests do).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if [ -n "${ETCDMON_BIN_DIR:-}" ]; then
  monitor="$ETCDMON_BIN_DIR/etcd-monitor"
  shown_monitor=$monitor
else
  bash scripts/setup.sh
  BUILD_DIR=${BUILD_DIR:-build}
  export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
  cmake -S "$root" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  echo "demo: building etcd-monitor"
  ninja -C "$BUILD_DIR" etcd-monitor | grep -v '^\[' || true
  ninja -C "$BUILD_DIR" etcd-monitor >/dev/null
  monitor="$root/$BUILD_DIR/cli/etcd-monitor"
  shown_monitor="$BUILD_DIR/cli/etcd-monitor"
fi
if [ ! -x "$monitor" ]; then
  echo "demo: no etcd-monitor binary at $monitor" >&2
  exit 1
fi

demo_dir=${DEMO_DIR:-$root/.demo}
rm -rf "$demo_dir"
mkdir -p "$demo_dir"

pids=()
# True while `pid` runs: a process that exited but was not reaped yet (a zombie; these are not
# our children, so init reaps them, sometimes late) counts as gone.
running() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}
cleanup() {
  trap - EXIT INT TERM
  if [ ${#pids[@]} -gt 0 ]; then
    echo
    echo "demo: stopping ${#pids[@]} processes"
    # In list order (the monitor first), one at a time: etcd members stopped together make a
    # stopping leader try to hand over to a member that is going too, which can take seconds.
    # Each gets a bounded wait (they are not our children, so `wait` cannot be used), then
    # SIGKILL.
    local pid
    for pid in "${pids[@]}"; do
      kill "$pid" 2>/dev/null || continue
      for _ in $(seq 1 50); do
        running "$pid" || break
        sleep 0.1
      done
      running "$pid" && kill -9 "$pid" 2>/dev/null || true
    done
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

read -r -a client_ports <<<"${ETCD_CLIENT_PORTS:-2379 22379 32379}"
echo "demo: starting etcd on 127.0.0.1:${client_ports[0]}, :${client_ports[1]}, :${client_ports[2]} (data and logs in $demo_dir)"
members=$(deploy/local/etcd-cluster.sh "$demo_dir")
while read -r pid name; do
  pids+=("$pid")
done <<<"$members"

endpoints=127.0.0.1:${client_ports[0]},127.0.0.1:${client_ports[1]},127.0.0.1:${client_ports[2]}
echo
echo "\$ etcd-monitor ctl endpoint status --endpoints=$endpoints -w table"
"$monitor" ctl endpoint status --endpoints="$endpoints" -w table
echo
echo "\$ etcd-monitor ctl member list --endpoints=$endpoints -w table"
"$monitor" ctl member list --endpoints="$endpoints" -w table

# The API token that creating silences needs and the benchmark token that running benchmarks
# over REST needs (the API token does not run them): random, readable by this user only, never
# printed (the hints below read them from the files).
token_file="$demo_dir/api-token"
deploy/local/api-token.sh "$token_file"
benchmark_token_file="$demo_dir/benchmark-token"
deploy/local/api-token.sh "$benchmark_token_file"

api_port=${API_PORT:-8080}
echo
echo "demo: starting etcd-monitor on port $api_port (log in $demo_dir/etcd-monitor.log)"
"$monitor" --endpoints="$endpoints" --api-port="$api_port" --data-dir="$demo_dir/monitor" \
  --api-token-file="$token_file" --benchmark-token-file="$benchmark_token_file" \
  --metrics-interval="${METRICS_INTERVAL:-5s}" >"$demo_dir/etcd-monitor.out" \
  2>"$demo_dir/etcd-monitor.log" &
monitor_pid=$!
# First in the list: cleanup stops the monitor before the cluster it watches.
pids=("$monitor_pid" "${pids[@]}")
for i in $(seq 1 60); do
  if curl -fsS "http://127.0.0.1:$api_port/health" >/dev/null 2>&1; then
    break
  fi
  if ! kill -0 "$monitor_pid" 2>/dev/null; then
    echo "demo: etcd-monitor exited; its log:" >&2
    tail -20 "$demo_dir/etcd-monitor.log" >&2
    exit 1
  fi
  [ "$i" -eq 60 ] && echo "demo: etcd-monitor is up but not healthy yet; see .demo/etcd-monitor.log"
  sleep 1
done
cat "$demo_dir/etcd-monitor.out"
echo
echo "demo: everything is running; open the web console at http://localhost:$api_port/ or try"
echo "  curl http://localhost:$api_port/api/v1/cluster/status"
echo "  curl http://localhost:$api_port/api/v1/metrics/current"
echo "  curl http://localhost:$api_port/metrics"
echo "  $shown_monitor ctl endpoint health --endpoints=$endpoints"
echo "  $shown_monitor --endpoints=$endpoints --run-benchmark --benchmark-type=write --benchmark-ops=10000"
echo "demo: the benchmark token (benchmarks over REST and in the console) is in $benchmark_token_file, the API token (silences) in $token_file; try"
echo "  curl -X POST -H \"Authorization: Bearer \$(cat $benchmark_token_file)\" -d '{\"type\": \"write\", \"ops\": 10000}' http://localhost:$api_port/api/v1/performance/benchmark"
echo "  API_TOKEN=\$(cat $token_file) $shown_monitor silence create --for=1h --api-url=http://localhost:$api_port --comment=demo"
echo "demo: press Ctrl-C to stop (or kill $$ when started in the background)"
# The members were started by a child script, so they are not ours to `wait` on: watch them. A
# member that exits (stopped to see what the monitor says) is reported once; the monitor keeps
# watching the rest. The demo ends when the monitor exits.
declare -A reported=()
while true; do
  if ! kill -0 "$monitor_pid" 2>/dev/null; then
    echo "demo: etcd-monitor exited; see $demo_dir/etcd-monitor.log"
    exit 1
  fi
  while read -r pid name; do
    if [ -z "${reported[$pid]:-}" ] && ! running "$pid"; then
      reported[$pid]=1
      echo "demo: etcd member $name (pid $pid) exited (log: $demo_dir/$name.log); the monitor keeps watching"
    fi
  done <<<"$members"
  sleep 1
done
