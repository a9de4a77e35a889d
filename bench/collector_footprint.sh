#!/usr/bin/env bash
# The collector's cost on an etcd host: one collector sampling one member of the local 3-node
# cluster every second, for DURATION seconds (default 600), acknowledged by a stand-in
# aggregator. Prints the collector's average CPU (percent of one core), its RSS at start and end
# (growth) and peak, and how the RSS splits into anonymous memory (heap, stacks: what the
# collector really costs) and file pages (shared-library code mapped from disk, clean and shared
# with every other process using the same libraries).
#   bench/collector_footprint.sh [DURATION]
# Needs a build with -DETCDMON_BUILD_BENCH=ON in BUILD_DIR (default build); uses ports 2379-32380
# and 25555.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-600}
build=${BUILD_DIR:-build}
collector="$build/collector/etcd-monitor-collector"
sink="$build/bench/ack_sink"
for bin in "$collector" "$sink"; do
  [ -x "$bin" ] || { echo "missing $bin: cmake -DETCDMON_BUILD_BENCH=ON and build" >&2; exit 1; }
done

work=$(mktemp -d)
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  sleep 1
  kill -9 "${pids[@]}" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

while read -r pid _; do pids+=("$pid"); done < <(deploy/local/etcd-cluster.sh "$work/etcd")
"$sink" tcp://127.0.0.1:25555 >"$work/sink.log" 2>&1 &
pids+=($!)
"$collector" --endpoints=127.0.0.1:2379 --aggregator=tcp://127.0.0.1:25555 \
  --metrics-interval=1s --health-check-interval=30s --data-dir="$work/etcd" \
  --state-file="$work/collector.seq" --log-level=warn 2>"$work/collector.log" &
cpid=$!
pids+=("$cpid")

ticks=$(getconf CLK_TCK)
page=$(getconf PAGESIZE)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$cpid/stat"; }
rss_kb() { awk -v p="$page" '{print int($2 * p / 1024)}' "/proc/$cpid/statm"; }
anon_kb() { awk '/^RssAnon:/{print $2}' "/proc/$cpid/status"; }
file_kb() { awk '/^RssFile:/{print $2}' "/proc/$cpid/status"; }

sleep 5  # let it connect and learn the member's name
t0=$(date +%s.%N); c0=$(cpu_ticks); rss0=$(rss_kb); peak=$rss0; anon0=$(anon_kb)
elapsed=0
while [ "$elapsed" -lt "$duration" ]; do
  sleep 10
  elapsed=$((elapsed + 10))
  r=$(rss_kb); [ "$r" -gt "$peak" ] && peak=$r
  echo "t=${elapsed}s rss_kb=$r anon_kb=$(anon_kb) cpu_s=$(awk -v t="$(cpu_ticks)" -v c="$c0" -v k="$ticks" 'BEGIN{printf "%.2f", (t-c)/k}')"
done
# Where the file-backed pages come from: resident kB per mapped file, largest first.
echo "largest file-backed mappings (resident kB):"
awk '/^[0-9a-f]+-[0-9a-f]+ / { file = $6 } /^Rss:/ { if (file != "") rss[file] += $2 }
     END { for (f in rss) printf "%8d %s\n", rss[f], f }' "/proc/$cpid/smaps" | sort -rn | head -12
t1=$(date +%s.%N); c1=$(cpu_ticks); rss1=$(rss_kb); anon1=$(anon_kb); file1=$(file_kb)
awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v k="$ticks" -v r0="$rss0" -v r1="$rss1" \
  -v peak="$peak" -v a0="$anon0" -v a1="$anon1" -v f1="$file1" 'BEGIN {
    printf "collector cpu_avg=%.3f%% of one core over %.0f s; rss start=%d kB end=%d kB peak=%d kB growth=%d kB\n",
      100 * (c1 - c0) / k / (t1 - t0), t1 - t0, r0, r1, peak, r1 - r0
    printf "collector rss split at end: anonymous=%d kB (start %d kB, growth %d kB) file-backed=%d kB\n",
      a1, a0, a1 - a0, f1 }'
