#!/usr/bin/env bash
# Installs what is missing, builds everything the tests need, runs every test through ctest.
# Usage: scripts/test.sh [--sanitize] [extra ctest args...]   (e.g. -L unit, -R config)
#   --sanitize  builds in build-asan (BUILD_DIR overrides) with ETCDMON_SANITIZE=address,undefined
#               and runs the tests so that any AddressSanitizer, LeakSanitizer or UBSan report
#               fails the test that triggered it.
# Env: BUILD_DIR (default build), ETCDMON_SANITIZE (e.g. address,undefined), JOBS.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if [ "${1:-}" = "--sanitize" ]; then
  shift
  export ETCDMON_SANITIZE=${ETCDMON_SANITIZE:-address,undefined}
  BUILD_DIR=${BUILD_DIR:-build-asan}
fi
if [ -n "${ETCDMON_SANITIZE:-}" ]; then
  # A report ends the process with a non-zero status, so the test fails instead of printing and
  # going on; leaks are reported at exit. These reach the product binaries the tests start too.
  # alloc_dealloc_mismatch=0: Debian's libzmq 4.3.4 frees with free() what it allocated with
  # new(std::nothrow) on its I/O thread (a refused connection: collector_test's stop tests), a
  # report inside the library that no code of ours can avoid.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=0:alloc_dealloc_mismatch=0}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
fi

start=$(date +%s)
bash scripts/setup.sh

# The tree stays formatted (.clang-format at the root): a formatting difference fails the run
# (after the tests, so that they still report), naming the files and lines.
format_status=0
format_log=$(mktemp)
if ! git ls-files -z '*.cpp' '*.h' | xargs -0 clang-format --dry-run -Werror 2>"$format_log"; then
  format_status=1
  head -40 "$format_log" >&2
  echo "test: FAILED: files differ from .clang-format; fix with:" \
    "git ls-files '*.cpp' '*.h' | xargs clang-format -i" >&2
else
  echo "test: every C++ file is formatted as .clang-format says"
fi
rm -f "$format_log"

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}

cmake -S "$root" -B "$BUILD_DIR" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DETCDMON_BUILD_TESTS=ON \
  -DETCDMON_SANITIZE="${ETCDMON_SANITIZE:-}" >/dev/null
echo "test: building in $BUILD_DIR with $JOBS jobs"
ninja -C "$BUILD_DIR" -j "$JOBS" | grep -v '^\[' || true
# ninja's exit code is lost in the pipe above; run it again (a no-op when the build succeeded)
ninja -C "$BUILD_DIR" -j "$JOBS" >/dev/null
built=$(date +%s)
echo "test: build took $((built - start)) s"

# One ctest run, so its summary covers everything. Tests that start real etcd clusters hold the
# "etcd" resource lock (see cmake/EtcdmonHelpers.cmake) and so run one at a time, beside the
# unit tests, which keeps elections undisturbed on a 2-core machine.
cd "$BUILD_DIR"
status=0
ctest --output-on-failure -j "$JOBS" "$@" || status=$?
echo "test: total $(( $(date +%s) - start )) s"
if [ "$format_status" -ne 0 ]; then
  echo "test: FAILED: formatting (see above)" >&2
  status=1
fi
exit $status
