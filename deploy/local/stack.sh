#!/usr/bin/env bash
# The stack of docker-compose-full.yml as native processes, without Docker: the 3-node etcd
# cluster (etcd-cluster.sh), CURVE key pairs (etcd-monitor keygen: the aggregator's in
# keys/, each collector's in collector-NAME/keys/, and the aggregator's allow-list
# keys/collector-keys naming each collector's key with its id), one collector per member,
# the aggregator, the alerter, the gateway, its TLS proxy (Debian's nginx with
# deploy/tls-proxy's config: HTTPS on TLS_PORT, with a certificate from `etcd-monitor keygen
# --https-tls` whose CA is keys/https-ca.pem) and Prometheus (Debian's) with deploy/prometheus's
# config and alert rules. Grafana is not part of it (Debian has no package for it).
#
# Usage: deploy/local/stack.sh start        start everything; returns once the gateway is healthy
#                                            and Prometheus is ready
#        deploy/local/stack.sh stop [NAME…]  stop everything (or only the named processes:
#                                            etcd1 etcd2 etcd3 aggregator collector-etcd1 …
#                                            alerter gateway tls-proxy prometheus)
#        deploy/local/stack.sh status       one "NAME running|stopped PID" line per process
#        deploy/local/stack.sh config       only write the native prometheus.yml (and alerts.yml)
#
# Env (defaults are the compose stack's ports):
#   STACK_DIR          .cache/stack (git-ignored): data, logs (logs/NAME.log), pid files
#                      (pids/NAME.pid), keys, the generated prometheus.yml
#   BUILD_DIR          build: the CMake build tree holding the binaries; or
#   ETCDMON_BIN_DIR    a directory holding all five binaries (e.g. /usr/local/bin)
#   ETCD_CLIENT_PORTS  "2379 22379 32379"     ETCD_PEER_PORTS "2380 22380 32380"
#   INGEST_PORT 5555, PUBLISH_PORT 5556, AGGREGATOR_GRPC_PORT 5557, ALERTER_GRPC_PORT 5558,
#   API_PORT 8080 (the gateway's plain HTTP), TLS_PORT 8443 (HTTPS through the proxy),
#   PROMETHEUS_PORT 9090
#   METRICS_INTERVAL   10s: the collectors' sampling interval
#   HEALTH_CHECK_INTERVAL  30s: the collectors' member list, alarms and /health
#   SCRAPE_INTERVAL    unset: prometheus.yml's own (15s, the gateway 10s); tests set 1s
#   PROMETHEUS         /usr/bin/prometheus      NGINX  /usr/sbin/nginx (the TLS proxy)
#   START_TIMEOUT      60: seconds `start` waits for the gateway and Prometheus
#   ETCD_ROOT_PASSWORD_FILE  unset; set: etcd's root user gets this file's password, auth is
#                      enabled, and the collectors and the gateway log in with --password-file
#   ALERTER_ARGS, COLLECTOR_ARGS, GATEWAY_ARGS  extra flags (split on spaces) for those processes,
#                      e.g. notification channels; secrets go in files (*-file flags), never here
set -Eeuo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

stack_dir=${STACK_DIR:-$root/.cache/stack}
read -r -a etcd_client_ports <<<"${ETCD_CLIENT_PORTS:-2379 22379 32379}"
read -r -a etcd_peer_ports <<<"${ETCD_PEER_PORTS:-2380 22380 32380}"
ingest_port=${INGEST_PORT:-5555}
publish_port=${PUBLISH_PORT:-5556}
aggregator_grpc_port=${AGGREGATOR_GRPC_PORT:-5557}
alerter_grpc_port=${ALERTER_GRPC_PORT:-5558}
api_port=${API_PORT:-8080}
tls_port=${TLS_PORT:-8443}
prometheus_port=${PROMETHEUS_PORT:-9090}
metrics_interval=${METRICS_INTERVAL:-10s}
prometheus_bin=${PROMETHEUS:-/usr/bin/prometheus}
nginx_bin=${NGINX:-/usr/sbin/nginx}
start_timeout=${START_TIMEOUT:-60}
members=(etcd1 etcd2 etcd3)
# Start order; `stop` goes the other way (Prometheus and the gateway first, etcd last).
all_names=(etcd1 etcd2 etcd3 aggregator collector-etcd1 collector-etcd2 collector-etcd3
           alerter gateway tls-proxy prometheus)

log() { echo "stack: $*" >&2; }

binary() {
  local name=$1 subdir=$2
  if [ -n "${ETCDMON_BIN_DIR:-}" ]; then
    echo "$ETCDMON_BIN_DIR/$name"
  else
    local build_dir=${BUILD_DIR:-build}
    case $build_dir in /*) ;; *) build_dir=$root/$build_dir ;; esac
    echo "$build_dir/$subdir/$name"
  fi
}

pid_file() { echo "$stack_dir/pids/$1.pid"; }

# The PID of NAME when that process still runs (the PID file may be left from a crash, and its
# number reused by an unrelated process: the command line must still name our binary).
running_pid() {
  local name=$1 file pid expected
  file=$(pid_file "$name")
  [ -f "$file" ] || return 1
  pid=$(cat "$file")
  case $name in
    etcd*) expected=etcd ;;
    prometheus) expected=prometheus ;;
    tls-proxy) expected=nginx ;;
    *) expected=etcd-monitor ;;
  esac
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$expected" || return 1
  echo "$pid"
}

# Starts NAME in the background with its output in logs/NAME.log and records its PID.
launch() {
  local name=$1
  shift
  "$@" </dev/null >>"$stack_dir/logs/$name.log" 2>&1 &
  echo $! >"$(pid_file "$name")"
}

# Whether PID still runs. Our processes are not this shell's children (a previous `start`
# launched them), so an exited one stays a zombie until its new parent reaps it: not alive.
alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

stop_names() {
  local name pid pids=() names=()
  for name in "$@"; do
    if pid=$(running_pid "$name"); then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
      names+=("$name")
    fi
    rm -f "$(pid_file "$name")"
  done
  [ ${#pids[@]} -eq 0 ] && return 0
  # Bounded wait; a leader whose peers are gone can take a few seconds, so SIGKILL after 15 s.
  local attempt alive
  for attempt in $(seq 1 150); do
    alive=0
    for pid in "${pids[@]}"; do
      if alive "$pid"; then alive=1; fi
    done
    [ "$alive" -eq 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    if alive "$pid"; then
      log "pid $pid did not stop within 15 s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  log "stopped ${names[*]}"
}

stop_all() {
  local reversed=() i
  for ((i = ${#all_names[@]} - 1; i >= 0; i--)); do reversed+=("${all_names[$i]}"); done
  # Everything but etcd first, then the members one at a time: a stopping leader hands its
  # leadership to a live peer at once, and the last one has no live peer to wait for. (Stopped
  # together, a leader may wait seconds for a hand-over to a peer that is going away too.)
  stop_names "${reversed[@]:0:${#all_names[@]}-3}"
  stop_names etcd3
  stop_names etcd2
  stop_names etcd1
}

# prometheus.yml as the containers see it, with each container's host:port replaced by the
# loopback port of its native twin (and faster intervals when SCRAPE_INTERVAL is set).
write_prometheus_config() {
  local out_dir=$stack_dir/prometheus
  mkdir -p "$out_dir"
  local substitutions=(
    -e "s/'etcd-monitor:8080'/'127.0.0.1:$api_port'/"
    -e "s/'etcd1:2379'/'127.0.0.1:${etcd_client_ports[0]}'/"
    -e "s/'etcd2:2379'/'127.0.0.1:${etcd_client_ports[1]}'/"
    -e "s/'etcd3:2379'/'127.0.0.1:${etcd_client_ports[2]}'/"
    -e "s/'localhost:9090'/'127.0.0.1:$prometheus_port'/"
  )
  if [ -n "${SCRAPE_INTERVAL:-}" ]; then
    substitutions+=(
      -e "s/^\( *\)scrape_interval: .*/\1scrape_interval: $SCRAPE_INTERVAL/"
      -e "s/^\( *\)evaluation_interval: .*/\1evaluation_interval: $SCRAPE_INTERVAL/"
      -e "s/^\( *\)scrape_timeout: .*/\1scrape_timeout: $SCRAPE_INTERVAL/"
    )
  fi
  sed "${substitutions[@]}" "$root/deploy/prometheus/prometheus.yml" >"$out_dir/prometheus.yml"
  # rule_files is relative to the config file: alerts.yml beside it, as in the container.
  cp "$root/deploy/prometheus/alerts.yml" "$out_dir/alerts.yml"
  if grep -qE "'(etcd-monitor|etcd[123]|localhost):[0-9]+'" "$out_dir/prometheus.yml"; then
    log "a target of deploy/prometheus/prometheus.yml has no native counterpart:"
    grep -nE "'(etcd-monitor|etcd[123]|localhost):[0-9]+'" "$out_dir/prometheus.yml" >&2
    return 1
  fi
}

# deploy/tls-proxy/nginx.conf as the compose container runs it, with the container's paths and
# the gateway's host name replaced by the native stack's, and the port by TLS_PORT on 127.0.0.1.
# The access log goes to logs/tls-proxy.log by name: reopening /dev/stdout needs the right to
# open the file behind it, which depends on who created it.
write_tls_proxy_config() {
  local out_dir=$stack_dir/tls-proxy keys=$stack_dir/keys
  mkdir -p "$out_dir"
  sed -e "s|/var/cache/nginx/|$out_dir/|" \
      -e "s|/etc/nginx/tls/|$keys/|" \
      -e "s|listen 8443 ssl;|listen 127.0.0.1:$tls_port ssl;|" \
      -e "s|http://etcd-monitor:8080|http://127.0.0.1:$api_port|" \
      -e "s|access_log /dev/stdout;|access_log $stack_dir/logs/tls-proxy.log;|" \
      "$root/deploy/tls-proxy/nginx.conf" >"$out_dir/nginx.conf"
  if grep -nE "/var/cache/nginx|/etc/nginx|/dev/stdout|etcd-monitor:8080|listen 8443 " \
      "$out_dir/nginx.conf"; then
    log "a line of deploy/tls-proxy/nginx.conf has no native counterpart (above)"
    return 1
  fi
}

http_ok() { curl -fsS --max-time 2 -o /dev/null "$1" 2>/dev/null; }

start() {
  local name
  for name in "${all_names[@]}"; do
    if running_pid "$name" >/dev/null; then
      log "$name is already running (pid $(running_pid "$name")); run '$0 stop' first"
      exit 1
    fi
  done

  local monitor collector aggregator alerter gateway
  monitor=$(binary etcd-monitor cli)
  collector=$(binary etcd-monitor-collector collector)
  aggregator=$(binary etcd-monitor-aggregator aggregator)
  alerter=$(binary etcd-monitor-alerter alerter)
  gateway=$(binary etcd-monitor-gateway gateway)
  for b in "$monitor" "$collector" "$aggregator" "$alerter" "$gateway" "$prometheus_bin" \
      "$nginx_bin"; do
    if [ ! -x "$b" ]; then
      log "$b is missing: build it (ninja -C build etcd-monitor etcd-monitor-collector" \
          "etcd-monitor-aggregator etcd-monitor-alerter etcd-monitor-gateway) or set" \
          "BUILD_DIR / ETCDMON_BIN_DIR / PROMETHEUS / NGINX (scripts/setup.sh installs nginx-light)"
      exit 1
    fi
  done

  mkdir -p "$stack_dir/logs" "$stack_dir/pids"
  # From here on, a failure takes down whatever was started.
  trap 'log "start failed; stopping what was started"; stop_all; exit 1' ERR
  trap 'stop_all; exit 130' INT TERM

  log "etcd on 127.0.0.1:${etcd_client_ports[*]} (data in $stack_dir/etcd)"
  local pid
  while read -r pid name; do
    echo "$pid" >"$(pid_file "$name")"
  done < <(ETCD_CLIENT_PORTS="${etcd_client_ports[*]}" ETCD_PEER_PORTS="${etcd_peer_ports[*]}" \
             "$here/etcd-cluster.sh" "$stack_dir/etcd")
  for name in "${members[@]}"; do
    running_pid "$name" >/dev/null || { log "$name did not start"; false; }
  done

  local etcd_auth=()
  if [ -n "${ETCD_ROOT_PASSWORD_FILE:-}" ]; then
    # The password goes to etcdctl on stdin, never on a command line.
    local etcd_endpoint="http://127.0.0.1:${etcd_client_ports[0]}"
    # A restart on old data: root exists and auth is on already (user add is refused).
    if ETCDCTL_API=3 etcdctl --endpoints="$etcd_endpoint" user add root --interactive=false \
        <"$ETCD_ROOT_PASSWORD_FILE" >/dev/null 2>&1; then
      ETCDCTL_API=3 etcdctl --endpoints="$etcd_endpoint" user grant-role root root >/dev/null
      ETCDCTL_API=3 etcdctl --endpoints="$etcd_endpoint" auth enable >/dev/null
    fi
    etcd_auth=(--user=root --password-file="$ETCD_ROOT_PASSWORD_FILE")
  fi
  local alerter_args collector_args gateway_args
  read -r -a alerter_args <<<"${ALERTER_ARGS:-}"
  read -r -a collector_args <<<"${COLLECTOR_ARGS:-}"
  read -r -a gateway_args <<<"${GATEWAY_ARGS:-}"

  local keys=$stack_dir/keys
  if [ ! -s "$keys/curve.pub" ]; then
    "$monitor" keygen --out "$keys" >/dev/null
  fi
  # Each collector has a key pair of its own (keygen --collector) in its own directory, and
  # only its own: the aggregator's secret key stays in $keys. The aggregator's allow-list names
  # each collector's public key with that collector's id only, so no collector can send as
  # another, and no other key is accepted.
  local collector_keys=$keys/collector-keys
  # A new temporary file (mktemp: O_EXCL, mode 0600, random name), so that a symlink planted at
  # a fixed name cannot redirect the write.
  local collector_keys_tmp
  collector_keys_tmp=$(mktemp "$collector_keys.XXXXXX")
  for name in "${members[@]}"; do
    local own_keys=$stack_dir/collector-$name/keys
    if [ ! -s "$own_keys/curve.pub" ]; then
      "$monitor" keygen --collector "collector-$name" --out "$own_keys" >/dev/null
    fi
    echo "collector-$name $(cat "$own_keys/curve.pub")" >>"$collector_keys_tmp"
  done
  mv "$collector_keys_tmp" "$collector_keys"
  # The collectors and the gateway take the aggregator's public key file, as in compose. The
  # alerter and the gateway share one API token (benchmarks over REST, silences).
  local server_key=$keys/curve.pub
  "$here/api-token.sh" "$keys/api-token"
  # Benchmarks over REST write into the cluster: they need a token of their own (the API token
  # does not run them), given to the gateway only.
  "$here/api-token.sh" "$keys/benchmark-token"
  # The gRPC ports stay on 127.0.0.1 (plaintext), yet every call needs this token: another user
  # of this host cannot read alerts or create silences through them.
  "$here/api-token.sh" "$keys/grpc-token"
  # The TLS proxy's certificate for 127.0.0.1 and localhost, signed by a CA of the stack's own
  # (keys/https-ca.pem: the clients' --cacert; its key is not kept).
  if [ ! -s "$keys/https-server.pem" ]; then
    "$monitor" keygen --out "$keys" --https-tls 127.0.0.1,localhost >/dev/null
  fi

  launch aggregator "$aggregator" \
    --listen="tcp://127.0.0.1:$ingest_port" \
    --publish="tcp://127.0.0.1:$publish_port" \
    --grpc-listen="127.0.0.1:$aggregator_grpc_port" \
    --grpc-token-file="$keys/grpc-token" \
    --db="$stack_dir/aggregator/history.db" \
    --metrics-interval="$metrics_interval" \
    --curve-secret-key-file="$keys/curve.key" \
    --collector-keys="$collector_keys"

  local i
  for i in 0 1 2; do
    name=${members[$i]}
    mkdir -p "$stack_dir/collector-$name"
    launch "collector-$name" "$collector" \
      --endpoints="http://127.0.0.1:${etcd_client_ports[$i]}" \
      --member-name="$name" \
      --collector-id="collector-$name" \
      --aggregator="tcp://127.0.0.1:$ingest_port" \
      --curve-server-key="$server_key" \
      --curve-key-dir="$stack_dir/collector-$name/keys" \
      --metrics-interval="$metrics_interval" \
      --health-check-interval="${HEALTH_CHECK_INTERVAL:-30s}" \
      --data-dir="$stack_dir/etcd/$name.etcd" \
      --state-file="$stack_dir/collector-$name/collector.seq" \
      "${etcd_auth[@]}" "${collector_args[@]}"
  done

  launch alerter "$alerter" \
    --snapshots="tcp://127.0.0.1:$publish_port" \
    --curve-server-key-file="$keys/curve.pub" \
    --grpc-listen="127.0.0.1:$alerter_grpc_port" \
    --grpc-token-file="$keys/grpc-token" \
    --db="$stack_dir/alerter/alerts.db" \
    --api-token-file="$keys/api-token" \
    --max-latency-ms=100 --max-db-size-mb=8192 --min-available-nodes=2 --max-leader-changes=3 \
    "${alerter_args[@]}"

  launch gateway "$gateway" \
    --api-host=127.0.0.1 \
    --api-port="$api_port" \
    --aggregator="127.0.0.1:$aggregator_grpc_port" \
    --alerter="127.0.0.1:$alerter_grpc_port" \
    --grpc-token-file="$keys/grpc-token" \
    --snapshots="tcp://127.0.0.1:$publish_port" \
    --curve-server-key="$server_key" \
    --api-token-file="$keys/api-token" \
    --benchmark-token-file="$keys/benchmark-token" \
    --trusted-proxy=127.0.0.1 \
    --endpoints="http://127.0.0.1:${etcd_client_ports[0]},http://127.0.0.1:${etcd_client_ports[1]},http://127.0.0.1:${etcd_client_ports[2]}" \
    "${etcd_auth[@]}" "${gateway_args[@]}"

  # HTTPS in front of the gateway (its own --tls-cert-file would let one idle client stall it).
  # As the invoking user: every path nginx writes is under $stack_dir/tls-proxy, and -e sends
  # the messages before the config is read to stderr (not /var/log/nginx).
  write_tls_proxy_config
  launch tls-proxy "$nginx_bin" -p "$stack_dir/tls-proxy/" -e stderr \
    -c "$stack_dir/tls-proxy/nginx.conf"

  write_prometheus_config
  launch prometheus "$prometheus_bin" \
    --config.file="$stack_dir/prometheus/prometheus.yml" \
    --storage.tsdb.path="$stack_dir/prometheus/data" \
    --web.listen-address="127.0.0.1:$prometheus_port"

  # Bounded wait: every process alive, the gateway healthy and serving fresh samples of all
  # three members (collectors → aggregator → gateway), and Prometheus ready.
  local deadline=$((SECONDS + start_timeout))
  while true; do
    for name in "${all_names[@]}"; do
      if ! running_pid "$name" >/dev/null; then
        log "$name exited; last lines of $stack_dir/logs/$name.log:"
        tail -n 20 "$stack_dir/logs/$name.log" >&2 || true
        false
      fi
    done
    if http_ok "http://127.0.0.1:$api_port/health" &&
        curl -fsS --max-time 2 -o /dev/null --cacert "$keys/https-ca.pem" \
          "https://127.0.0.1:$tls_port/health" 2>/dev/null &&
        curl -fsS --max-time 2 "http://127.0.0.1:$api_port/api/v1/cluster/status" 2>/dev/null |
          grep -q '"fresh_members":3' &&
        http_ok "http://127.0.0.1:$prometheus_port/-/ready"; then
      break
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "not healthy within ${start_timeout} s; logs in $stack_dir/logs"
      false
    fi
    sleep 0.2
  done
  trap - ERR INT TERM

  cat <<EOF
etcd-monitor stack running (pids in $stack_dir/pids, logs in $stack_dir/logs):
  etcd         http://127.0.0.1:${etcd_client_ports[0]}  :${etcd_client_ports[1]}  :${etcd_client_ports[2]}
  gateway      http://127.0.0.1:$api_port  (/health, /api/v1/cluster/status, /metrics)
  HTTPS        https://127.0.0.1:$tls_port  (nginx in front of the gateway; CA: $keys/https-ca.pem)
  prometheus   http://127.0.0.1:$prometheus_port  (/targets, /alerts)
API token (silences) in $stack_dir/keys/api-token; benchmark token (POST /api/v1/performance/benchmark) in $stack_dir/keys/benchmark-token:
  curl -X POST -H "Authorization: Bearer \$(cat $stack_dir/keys/benchmark-token)" -d '{"type": "write", "ops": 10000}' http://127.0.0.1:$api_port/api/v1/performance/benchmark
stop it with: STACK_DIR=$stack_dir $0 stop
EOF
}

status() {
  local name pid
  for name in "${all_names[@]}"; do
    if pid=$(running_pid "$name"); then
      echo "$name running $pid"
    else
      echo "$name stopped -"
    fi
  done
}

case ${1:-} in
  start) start ;;
  stop)
    shift
    for name in "$@"; do
      case " ${all_names[*]} " in
        *" $name "*) ;;
        *) log "unknown process '$name' (one of: ${all_names[*]})"; exit 2 ;;
      esac
    done
    if [ $# -eq 0 ]; then stop_all; else stop_names "$@"; fi
    ;;
  status) status ;;
  config) write_prometheus_config && echo "$stack_dir/prometheus/prometheus.yml" ;;
  *)
    echo "usage: $0 start | stop [NAME...] | status | config" >&2
    exit 2
    ;;
esac
