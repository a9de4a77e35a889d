#!/usr/bin/env bash
# Soak test of the native distributed stack (deploy/local/stack.sh: 3 etcd members, a collector
# each, aggregator, alerter, gateway, TLS proxy, Prometheus) under a modest mixed load, with one
# etcd member restarted every few minutes. Prints a summary table and exits non-zero when a
# process looks like it leaks, samples are missing or notifications are missing.
#
# Usage: bench/soak.sh --minutes N [--restart-every MIN] [--rate OPS] [--keep]
#   --minutes N         how long the load runs (default 30)
#   --restart-every M   minutes between member restarts, etcd1, etcd2, etcd3 in turn (default 5);
#                       a member stays down DOWN_SECONDS (40) and is started again with the same
#                       command line. No restart starts in the last 2 minutes.
#   --rate OPS          the benchmark's operations per second (default 30): `etcd-monitor
#                       benchmark --type mixed` (70% gets, 30% puts) in 60 s runs, plus a range
#                       (etcdctl get --prefix, 100 keys) and a put every 2 s
#   --keep              leave STACK_DIR (data, logs) behind; it is removed otherwise on success
# Env: BUILD_DIR (build), STACK_DIR (.cache/soak), SOAK_PORT_BASE (24100: ports BASE+1..BASE+26,
#   below the ephemeral range, where outgoing connections could take them, and apart from the
#   stack's defaults so that a demo can run beside it), METRICS_INTERVAL (5s), WARMUP_SECONDS
#   (60), DOWN_SECONDS (40).
#
# Measured: RSS and open fds of every process after the warm-up ("start") and at the end, and
# each minute into STACK_DIR/soak/resources.csv; samples stored (points of etcd_member_up per
# member in the history file, one per collected sample, read with sqlite3) against expected
# (the window / the metrics interval); MemberUnavailable notifications (the alerter's console
# channel in its log) against expected. The alerter gets a rules file making MemberUnavailable
# fire below 3 available members after 15 s, so each restart is two alerts (the cluster's: fewer
# than 3 available; the member's: unreachable), each one firing and one resolved notification.
#
# Fails (exit 1) when, for a monitor process (collectors, aggregator, alerter, gateway, TLS
# proxy): RSS end > start + max(20 MiB, 30% of start), or fds end > start + 10; when a member has
# fewer than 95% of its expected samples; when fewer MemberUnavailable notifications than 2 firing
# and 2 resolved per restart arrived; when a process died. etcd members (restarted: new processes) and Prometheus
# (not ours) are reported, not judged. Exit 2: usage or start-up error.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

minutes=30
restart_every=5
rate=30
keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --minutes) minutes=${2:?}; shift 2 ;;
    --restart-every) restart_every=${2:?}; shift 2 ;;
    --rate) rate=${2:?}; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "usage: bench/soak.sh --minutes N [--restart-every MIN] [--rate OPS] [--keep]" >&2
       exit 2 ;;
  esac
done
for v in "$minutes" "$restart_every" "$rate"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "soak: want positive integers, got '$v'" >&2; exit 2; }
done

build=${BUILD_DIR:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
monitor=$build/cli/etcd-monitor
for b in "$monitor" "$build/collector/etcd-monitor-collector" \
    "$build/aggregator/etcd-monitor-aggregator" "$build/alerter/etcd-monitor-alerter" \
    "$build/gateway/etcd-monitor-gateway"; do
  if [ ! -x "$b" ]; then
    echo "soak: $b is missing: ninja -C $build etcd-monitor etcd-monitor-collector" \
      "etcd-monitor-aggregator etcd-monitor-alerter etcd-monitor-gateway" >&2
    exit 2
  fi
done
for tool in etcdctl sqlite3 curl; do
  command -v "$tool" >/dev/null || { echo "soak: $tool is missing (scripts/setup.sh)" >&2; exit 2; }
done

base=${SOAK_PORT_BASE:-24100}
interval_text=${METRICS_INTERVAL:-5s}
interval_s=${interval_text%s}
[[ "$interval_s" =~ ^[0-9]+$ ]] || { echo "soak: METRICS_INTERVAL must be whole seconds" >&2; exit 2; }
warmup=${WARMUP_SECONDS:-60}
down=${DOWN_SECONDS:-40}
client_ports=($((base + 1)) $((base + 2)) $((base + 3)))
peer_ports=($((base + 11)) $((base + 12)) $((base + 13)))
for p in "${client_ports[@]}" "${peer_ports[@]}" $((base + 20)) $((base + 21)) $((base + 22)) \
    $((base + 23)) $((base + 24)) $((base + 25)) $((base + 26)); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "soak: port $p is in use; set SOAK_PORT_BASE" >&2
    exit 2
  fi
done

export STACK_DIR=${STACK_DIR:-$root/.cache/soak}
export BUILD_DIR=$build
export ETCD_CLIENT_PORTS="${client_ports[*]}" ETCD_PEER_PORTS="${peer_ports[*]}"
export INGEST_PORT=$((base + 20)) PUBLISH_PORT=$((base + 21)) AGGREGATOR_GRPC_PORT=$((base + 22))
export ALERTER_GRPC_PORT=$((base + 23)) API_PORT=$((base + 24)) TLS_PORT=$((base + 25))
export PROMETHEUS_PORT=$((base + 26)) METRICS_INTERVAL=$interval_text
rm -rf "$STACK_DIR"
soak=$STACK_DIR/soak
mkdir -p "$soak"
cat >"$soak/rules.yaml" <<'EOF'
# bench/soak.sh: one member down of three is an alert after 15 s, so every restart notifies.
rules:
  MemberUnavailable: {min_available_nodes: 3, for: 15s}
EOF
export ALERTER_ARGS="--rules-file=$soak/rules.yaml"
endpoints="http://127.0.0.1:${client_ports[0]},http://127.0.0.1:${client_ports[1]},http://127.0.0.1:${client_ports[2]}"

log() { echo "soak: $(date -u +%H:%M:%S) $*" >&2; }
now_ms() { date +%s%3N; }
stack() { "$root/deploy/local/stack.sh" "$@"; }

loader_pids=()
cleanup() {
  local rc=$?
  for pid in "${loader_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${loader_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  stack stop >/dev/null 2>&1 || true
  if [ "$rc" -eq 0 ] && [ "$keep" -eq 0 ]; then rm -rf "$STACK_DIR"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "starting the stack (ports $((base + 1))..$((base + 26)), metrics interval $interval_text)"
if ! stack start >"$soak/stack-start.log" 2>&1; then
  cat "$soak/stack-start.log" >&2
  exit 2
fi

names=(etcd1 etcd2 etcd3 collector-etcd1 collector-etcd2 collector-etcd3 aggregator alerter
       gateway tls-proxy prometheus)
pid_of() { cat "$STACK_DIR/pids/$1.pid" 2>/dev/null || echo 0; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
# One "name pid rss_kib fds" line per process.
resources() {
  local name pid
  for name in "${names[@]}"; do
    pid=$(pid_of "$name")
    echo "$name $pid $(rss_kib "$pid") $(fds "$pid")"
  done
}

# The load: mixed benchmark runs, and a put plus a range every 2 s.
for i in $(seq 1 100); do echo "soak/key-$i"; done | while read -r key; do
  ETCDCTL_API=3 etcdctl --endpoints="$endpoints" put "$key" "value-$key" >/dev/null
done
(
  trap 'exit 0' TERM
  while true; do
    if "$monitor" benchmark --endpoints="$endpoints" --type=mixed --duration=60s --rate="$rate" \
        --clients=4 --conns=2 --key-space=1000 --value-size=256 --progress=false -o json \
        --log-level=error >"$soak/bench-last.json" 2>>"$soak/bench.err"; then
      echo ok >>"$soak/bench-runs"
    else
      echo failed >>"$soak/bench-runs"
    fi
    tr -d ' \n' <"$soak/bench-last.json" | grep -o '"succeeded":[0-9]*\|"failed":[0-9]*' |
      tr '\n' ' ' >>"$soak/bench-ops" || true
    echo >>"$soak/bench-ops"
  done
) &
loader_pids+=($!)
(
  trap 'exit 0' TERM
  n=0
  while true; do
    n=$((n + 1))
    if ETCDCTL_API=3 etcdctl --endpoints="$endpoints" --command-timeout=3s \
        put "soak/key-$((n % 100 + 1))" "v$n" >/dev/null 2>&1 &&
        ETCDCTL_API=3 etcdctl --endpoints="$endpoints" --command-timeout=3s \
        get soak/ --prefix --limit=100 --keys-only >/dev/null 2>&1; then
      echo ok >>"$soak/range-runs"
    else
      echo failed >>"$soak/range-runs"
    fi
    sleep 2
  done
) &
loader_pids+=($!)

log "load running; warm-up ${warmup}s"
sleep "$warmup"
resources >"$soak/start.txt"
t0=$(now_ms)
echo "unix_ms name pid rss_kib fds" >"$soak/resources.csv"
sed "s/^/$t0 /" "$soak/start.txt" >>"$soak/resources.csv"
log "measuring for $minutes min, a member restart every $restart_every min"

end=$((SECONDS + minutes * 60))
next_restart=$((SECONDS + restart_every * 60))
next_sample=$((SECONDS + 60))
restarts=0
member_index=0
dead=()
restart_member() {
  local name=$1 pid args
  pid=$(pid_of "$name")
  mapfile -d '' args <"/proc/$pid/cmdline"
  local cwd
  cwd=$(readlink "/proc/$pid/cwd")
  log "restart $name (pid $pid): down for ${down}s"
  kill -TERM "$pid"
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  sleep "$down"
  (cd "$cwd" && exec env -u ETCD_CLIENT_PORTS -u ETCD_PEER_PORTS "${args[@]}" \
    </dev/null >>"$STACK_DIR/etcd/$name.log" 2>&1) &
  echo $! >"$STACK_DIR/pids/$name.pid"
  log "$name started again (pid $!)"
}
while [ "$SECONDS" -lt "$end" ]; do
  if [ "$SECONDS" -ge "$next_restart" ] && [ $((end - SECONDS)) -gt $((120 + down)) ]; then
    members=(etcd1 etcd2 etcd3)
    restart_member "${members[$member_index]}"
    member_index=$(((member_index + 1) % 3))
    restarts=$((restarts + 1))
    next_restart=$((next_restart + restart_every * 60))
  fi
  if [ "$SECONDS" -ge "$next_sample" ]; then
    stamp=$(now_ms)
    resources | sed "s/^/$stamp /" >>"$soak/resources.csv"
    next_sample=$((next_sample + 60))
  fi
  sleep 1
done
t1=$(now_ms)
resources >"$soak/end.txt"
sed "s/^/$t1 /" "$soak/end.txt" >>"$soak/resources.csv"
for pid in "${loader_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
for pid in "${loader_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
loader_pids=()
# Let the last samples reach the history (a commit group, a tick) before counting.
sleep $((interval_s * 2))

status=0
echo
echo "soak: $minutes min, $restarts member restarts, metrics interval ${interval_s}s, load ${rate} ops/s"
printf '%-16s %8s %8s %8s %7s %6s %6s %6s  %s\n' process pid_end rss_start rss_end rss_grow \
  fds_st fds_end fds_gr verdict
while read -r name pid_s rss_s fds_s; do
  read -r _ pid_e rss_e fds_e < <(grep "^$name " "$soak/end.txt")
  verdict=ok
  case $name in
    etcd*) verdict="reported"
      if [ "$pid_s" != "$pid_e" ]; then verdict="reported (restarted: a new process)"; fi ;;
    prometheus) verdict="reported (not ours)" ;;
  esac
  if [ "$rss_e" -eq 0 ]; then
    verdict="DIED"
    dead+=("$name")
    status=1
  elif [ "$verdict" = ok ]; then
    allowed=$((rss_s * 30 / 100))
    [ "$allowed" -lt 20480 ] && allowed=20480
    if [ "$pid_s" != "$pid_e" ]; then
      verdict="RESTARTED"
      status=1
    elif [ $((rss_e - rss_s)) -gt "$allowed" ]; then
      verdict="LEAK? rss +$(((rss_e - rss_s) / 1024)) MiB > $((allowed / 1024)) MiB"
      status=1
    elif [ $((fds_e - fds_s)) -gt 10 ]; then
      verdict="LEAK? fds +$((fds_e - fds_s)) > 10"
      status=1
    fi
  fi
  printf '%-16s %8s %7sM %7sM %7sM %6s %6s %6s  %s\n' "$name" "$pid_e" $((rss_s / 1024)) \
    $((rss_e / 1024)) $(((rss_e - rss_s) / 1024)) "$fds_s" "$fds_e" $((fds_e - fds_s)) "$verdict"
done <"$soak/start.txt"

echo
expected=$(((t1 - t0) / 1000 / interval_s))
printf '%-10s %9s %9s %7s\n' member samples expected percent
db=$STACK_DIR/aggregator/history.db
for member in etcd1 etcd2 etcd3; do
  stored=$(sqlite3 -readonly "$db" "PRAGMA busy_timeout=5000;
    SELECT COUNT(*) FROM points_raw p JOIN series s ON s.id = p.series
      JOIN metrics m ON m.id = s.metric_id JOIN members mb ON mb.id = s.member_id
    WHERE m.name = 'etcd_member_up' AND mb.name = '$member' AND p.ts >= $t0 AND p.ts < $t1;" |
    tail -1)
  stored=${stored:-0}
  percent=$((stored * 100 / (expected > 0 ? expected : 1)))
  verdict=ok
  if [ $((stored * 100)) -lt $((expected * 95)) ]; then verdict="MISSING"; status=1; fi
  printf '%-10s %9s %9s %6s%%  %s\n' "$member" "$stored" "$expected" "$percent" "$verdict"
done

echo
alerter_log=$STACK_DIR/logs/alerter.log
count() { grep -c "$1" "$alerter_log" 2>/dev/null || true; }
firing=$(count 'alert kind=firing rule=MemberUnavailable')
resolved=$(count 'alert kind=resolved rule=MemberUnavailable')
all=$(count 'alert kind=')
# Each restart is two MemberUnavailable alerts: the cluster's (fewer than 3 available) and the
# member's (unreachable).
expected_notifications=$((restarts * 2))
verdict=ok
if [ "$firing" -lt "$expected_notifications" ] || [ "$resolved" -lt "$expected_notifications" ]; then
  verdict=MISSING
  status=1
fi
echo "notifications MemberUnavailable: firing $firing, resolved $resolved; expected" \
  "$expected_notifications each ($verdict); all notifications: $all"
bench_ok=$(grep -c ok "$soak/bench-runs" 2>/dev/null || true)
bench_failed=$(grep -c failed "$soak/bench-runs" 2>/dev/null || true)
range_ok=$(grep -c ok "$soak/range-runs" 2>/dev/null || true)
range_failed=$(grep -c failed "$soak/range-runs" 2>/dev/null || true)
ops=$(awk '{for (i = 1; i <= NF; i++) { split($i, kv, ":"); sum[kv[1]] += kv[2] } }
  END { printf "succeeded %d, failed %d", sum["\"succeeded\""], sum["\"failed\""] }' \
  "$soak/bench-ops" 2>/dev/null || echo "?")
echo "load: benchmark runs ok $bench_ok, failed $bench_failed (ops $ops); put+range ok $range_ok," \
  "failed $range_failed"
echo "resources each minute: $soak/resources.csv"
if [ "$status" -ne 0 ]; then
  keep=1
  echo "soak: FAILED (data and logs kept in $STACK_DIR)" >&2
else
  echo "soak: passed"
fi
exit $status
