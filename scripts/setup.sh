#!/usr/bin/env bash
# Installs every Debian package that building, testing and running etcd-monitor needs.
# Idempotent: when everything is already installed it checks and returns in a second or two.
set -euo pipefail

PACKAGES=(
  # toolchain and build
  cmake g++ ninja-build ccache pkg-config clang-format
  # the libFuzzer targets (scripts/fuzz.sh): clang and its sanitizer and fuzzer runtimes
  clang libclang-rt-dev
  # libraries
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libzmq3-dev cppzmq-dev libpistache-dev prometheus-cpp-dev libsqlite3-dev libspdlog-dev
  libssl-dev libcurl4-openssl-dev nlohmann-json3-dev libcli11-dev
  libyaml-cpp-dev libcpp-httplib-dev
  # remote_write bodies are snappy-compressed (common/remote_write)
  libsnappy-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # real parts the tests and the demo run
  etcd-server etcd-client prometheus openssl curl wrk
  # bench/soak.sh counts the samples stored in the aggregator's history file
  sqlite3
  # deploy/local/stack.sh terminates TLS in front of the gateway with nginx (deploy/tls-proxy)
  nginx-light
  # the browser tests load the gateway's web page in headless chromium (tests/browser)
  chromium
  # the compose file is validated with Debian 12's docker-compose (Compose v1; no daemon needed)
  docker-compose
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

install_packages() {
  if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: all ${#PACKAGES[@]} packages present"
    return
  fi
  echo "setup: installing ${#missing[@]} packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts packaged daemons on install; the tests and the demo run their own instances on
  # their own ports, so the system-wide ones are stopped to keep 2379/9090 free.
  for svc in etcd prometheus prometheus-node-exporter nginx; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
      $SUDO systemctl stop "$svc" || true
    fi
  done
}

# The npm registry's packages, pinned by each folder's package-lock.json: the web console's
# charting library (gateway/web, bundled into the gateway at build time) and the browser test's
# driver (tests/browser, run on Debian's chromium). `npm ci` runs again only when a lock file
# changed; nothing is downloaded at run time.
install_npm_packages() {
  if ! command -v npm >/dev/null 2>&1; then
    echo "setup: installing Debian's nodejs and npm"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  local root dir
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  for dir in gateway/web tests/browser; do
    if [ ! -f "$root/$dir/package-lock.json" ]; then
      echo "setup: no $dir/package-lock.json here; skipping its npm packages"
      continue
    fi
    if cmp -s "$root/$dir/package-lock.json" "$root/$dir/node_modules/.setup-lock.json"; then
      continue
    fi
    echo "setup: npm ci in $dir"
    (cd "$root/$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    cp "$root/$dir/package-lock.json" "$root/$dir/node_modules/.setup-lock.json"
  done
}

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

install_packages
install_npm_packages
echo "setup: done"
