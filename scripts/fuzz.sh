#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (AddressSanitizer, UBSan, libraries
# instrumented with fuzzer-no-link) in a build directory of their own, runs each for SECONDS on
# its seed corpus and prints per target: seconds, executions, executions/s, coverage (edges, ft),
# corpus size and crashes.
# Usage: scripts/fuzz.sh SECONDS [TARGET...]   (default: every target, one after the other)
# Env: FUZZ_BUILD_DIR (default build-fuzz), JOBS (default 2), TMPDIR (default /dev/shm).
# Exit status: 0 when no target crashed, 1 when one did (its input is kept under
# FUZZ_BUILD_DIR/artifacts/TARGET/; turn it into a case of tests/fuzz/fuzz_regression_test.cpp
# or a file in tests/fuzz/regressions/TARGET/), 2 on a usage or build error.
# The corpus a run grows is kept in FUZZ_BUILD_DIR/corpus/TARGET/ (next runs start from it too);
# the seeds in tests/fuzz/corpus/TARGET/ are only read.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

all_targets=(ingest_stage_fuzz gateway_request_fuzz rules_file_fuzz promtext_fuzz etcd_json_fuzz)
if [ $# -lt 1 ] || ! [[ "$1" =~ ^[0-9]+$ ]] || [ "$1" -lt 1 ]; then
  echo "usage: scripts/fuzz.sh SECONDS [TARGET...]  (targets: ${all_targets[*]})" >&2
  exit 2
fi
seconds=$1
shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=("${all_targets[@]}"); fi
for t in "${targets[@]}"; do
  if [[ ! " ${all_targets[*]} " =~ " $t " ]]; then
    echo "fuzz: unknown target $t (targets: ${all_targets[*]})" >&2
    exit 2
  fi
done

# The longest input each target is given.
declare -A max_len=([ingest_stage_fuzz]=16384 [gateway_request_fuzz]=4096 [rules_file_fuzz]=8192
                    [promtext_fuzz]=8192 [etcd_json_fuzz]=4096)

bash scripts/setup.sh
BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
JOBS=${JOBS:-2}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
cmake -S "$root" -B "$BUILD_DIR" -G Ninja \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DETCDMON_BUILD_TESTS=ON -DETCDMON_BUILD_FUZZ=ON \
  -DETCDMON_SANITIZE=address,undefined,fuzzer-no-link >/dev/null
echo "fuzz: building ${targets[*]} in $BUILD_DIR with $JOBS jobs"
if ! ninja -C "$BUILD_DIR" -j "$JOBS" "${targets[@]}" | grep -v '^\['; then :; fi
ninja -C "$BUILD_DIR" -j "$JOBS" "${targets[@]}" >/dev/null || exit 2

# UBSan reports end the run as a crash; leaks are crashes too.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
# ingest_stage_fuzz keeps its history file in a temporary directory: in memory when possible.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi

status=0
rows=()
for t in "${targets[@]}"; do
  work="$BUILD_DIR/corpus/$t"
  artifacts="$BUILD_DIR/artifacts/$t"
  log="$BUILD_DIR/logs/$t.log"
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  seeds="tests/fuzz/corpus/$t"
  dirs=("$work")
  if [ -d "$seeds" ]; then dirs+=("$seeds"); fi
  before=$(find "$artifacts" -type f | wc -l)
  echo "fuzz: $t for ${seconds}s (log $log)"
  rc=0
  "$BUILD_DIR/tests/fuzz/$t" -max_total_time="$seconds" -max_len="${max_len[$t]}" -timeout=30 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" "${dirs[@]}" \
    >"$log" 2>&1 || rc=$?
  after=$(find "$artifacts" -type f | wc -l)
  crashes=$((after - before))
  if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then crashes=1; fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corpus=$(find "$work" -type f | wc -l)
  rows+=("$(printf '%-22s %7s %12s %9s %7s %7s %7s %7s' "$t" "$seconds" "${execs:-?}" \
    "${rate:-?}" "${cov:-?}" "${ft:-?}" "$corpus" "$crashes")")
  if [ "$crashes" -ne 0 ]; then
    status=1
    echo "fuzz: $t CRASHED (exit $rc); input(s) in $artifacts/, report:" >&2
    grep -E 'ERROR:|runtime error|SUMMARY|Test unit written' "$log" | head -10 >&2 || true
  fi
done

echo
printf '%-22s %7s %12s %9s %7s %7s %7s %7s\n' target seconds execs execs/s cov ft corpus crashes
printf '%s\n' "${rows[@]}"
exit $status
