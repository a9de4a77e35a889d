#!/usr/bin/env bash
# Starts the local 3-node etcd cluster of the demo and the compose stack, as native processes:
#   etcd1 client 2379  peer 2380
#   etcd2 client 22379 peer 22380
#   etcd3 client 32379 peer 32380
# Usage: deploy/local/etcd-cluster.sh DATA_DIR
# Env: ETCD_HOST (127.0.0.1), ETCD_CLIENT_PORTS ("2379 22379 32379"), ETCD_PEER_PORTS
# ("2380 22380 32380"): other ports, e.g. free ones picked by a test.
# Prints one "PID NAME" line per member on stdout once the cluster has a leader; the members
# keep running in the background (the caller stops them by PID). Logs: DATA_DIR/<name>.log.
set -euo pipefail

data_dir=${1:?usage: etcd-cluster.sh DATA_DIR}
host=${ETCD_HOST:-127.0.0.1}
names=(etcd1 etcd2 etcd3)
read -r -a client_ports <<<"${ETCD_CLIENT_PORTS:-2379 22379 32379}"
read -r -a peer_ports <<<"${ETCD_PEER_PORTS:-2380 22380 32380}"
if [ ${#client_ports[@]} -ne 3 ] || [ ${#peer_ports[@]} -ne 3 ]; then
  echo "etcd-cluster: ETCD_CLIENT_PORTS and ETCD_PEER_PORTS need three ports each" >&2
  exit 2
fi

port_in_use() {
  (exec 3<>"/dev/tcp/$host/$1") 2>/dev/null
}

for p in "${client_ports[@]}" "${peer_ports[@]}"; do
  if port_in_use "$p"; then
    echo "etcd-cluster: port $p on $host is already in use (another etcd? stop it first)" >&2
    exit 1
  fi
done

initial_cluster=""
for i in 0 1 2; do
  initial_cluster+="${names[$i]}=http://$host:${peer_ports[$i]},"
done
initial_cluster=${initial_cluster%,}

mkdir -p "$data_dir"
pids=()
# Interrupted before the cluster is up: take down what was started, leave nothing behind.
trap 'kill "${pids[@]}" 2>/dev/null; exit 130' INT TERM
for i in 0 1 2; do
  name=${names[$i]}
  # etcd reads ETCD_* variables as its own settings: ours are not for it.
  env -u ETCD_HOST -u ETCD_CLIENT_PORTS -u ETCD_PEER_PORTS etcd --name "$name" \
    --data-dir "$data_dir/$name.etcd" \
    --listen-client-urls "http://$host:${client_ports[$i]}" \
    --advertise-client-urls "http://$host:${client_ports[$i]}" \
    --listen-peer-urls "http://$host:${peer_ports[$i]}" \
    --initial-advertise-peer-urls "http://$host:${peer_ports[$i]}" \
    --initial-cluster "$initial_cluster" \
    --initial-cluster-token etcd-monitor-demo \
    --initial-cluster-state new \
    --metrics extensive \
    >"$data_dir/$name.log" 2>&1 &
  pids+=($!)
done

# Wait (bounded) until every member answers /health with a leader.
for attempt in $(seq 1 100); do
  healthy=0
  for i in 0 1 2; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "etcd-cluster: ${names[$i]} exited; last log lines:" >&2
      tail -n 20 "$data_dir/${names[$i]}.log" >&2
      kill "${pids[@]}" 2>/dev/null || true
      exit 1
    fi
    if curl -fsS --max-time 1 "http://$host:${client_ports[$i]}/health" 2>/dev/null |
        grep -q '"health":"true"'; then
      healthy=$((healthy + 1))
    fi
  done
  if [ "$healthy" -eq 3 ]; then
    for i in 0 1 2; do echo "${pids[$i]} ${names[$i]}"; done
    exit 0
  fi
  sleep 0.2
done
echo "etcd-cluster: the cluster did not become healthy within 20 s; see $data_dir/*.log" >&2
kill "${pids[@]}" 2>/dev/null || true
exit 1
