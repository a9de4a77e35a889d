#!/usr/bin/env bash
# The product on a local 3-node etcd cluster: installs what is missing, builds, starts etcd on
# 2379/22379/32379 (data in ./.demo/), shows the cluster through etcd-monitor, and keeps running
# until Ctrl-C, which stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
cmake -S "$root" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
echo "demo: building etcd-monitor"
ninja -C "$BUILD_DIR" etcd-monitor | grep -v '^\[' || true
ninja -C "$BUILD_DIR" etcd-monitor >/dev/null
monitor="$root/$BUILD_DIR/cli/etcd-monitor"

demo_dir="$root/.demo"
rm -rf "$demo_dir"
mkdir -p "$demo_dir"

pids=()
cleanup() {
  trap - EXIT INT TERM
  if [ ${#pids[@]} -gt 0 ]; then
    echo
    echo "demo: stopping ${#pids[@]} processes"
    kill "${pids[@]}" 2>/dev/null || true
    # Bounded wait for them to go (they are not our children, so `wait` cannot be used); a
    # leader whose peers are already gone can take several seconds, so SIGKILL after 10 s.
    for _ in $(seq 1 100); do
      alive=0
      for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
      [ "$alive" -eq 0 ] && break
      sleep 0.1
    done
    kill -9 "${pids[@]}" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "demo: starting etcd on 127.0.0.1:2379, :22379, :32379 (data and logs in .demo/)"
members=$(deploy/local/etcd-cluster.sh "$demo_dir")
while read -r pid name; do
  pids+=("$pid")
done <<<"$members"

endpoints=127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379
echo
echo "\$ etcd-monitor ctl endpoint status --endpoints=$endpoints -w table"
"$monitor" ctl endpoint status --endpoints="$endpoints" -w table
echo
echo "\$ etcd-monitor ctl member list --endpoints=$endpoints -w table"
"$monitor" ctl member list --endpoints="$endpoints" -w table
echo
echo "demo: the cluster is running; try"
echo "  $BUILD_DIR/cli/etcd-monitor ctl endpoint status --endpoints=$endpoints -w json"
echo "  etcdctl --endpoints=$endpoints endpoint status -w table"
echo "demo: press Ctrl-C to stop"
# The members were started by a child script, so they are not ours to `wait` on: watch them.
while true; do
  for pid in "${pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "demo: etcd member (pid $pid) exited; see .demo/*.log"
      exit 1
    fi
  done
  sleep 1
done
