#!/usr/bin/env bash
# Store benchmarks as reported in BENCHMARKS.md: `keks-bench store` against a fresh embedded
# store (fsync on), and the same durable write workload against a local etcd — Debian's
# etcd-server, installed if missing, listening on loopback only, with its default fsync
# behaviour — started here and stopped on exit.
#
# Usage: scripts/bench-store.sh [keks-bench store options...]
#   e.g. scripts/bench-store.sh --duration-secs 5 --json target/bench-store.json
# Environment: ETCD_PORT (default 23790), ETCD_PEER_PORT (default 23800).
set -euo pipefail
cd "$(dirname "$0")/.."

etcd_port=${ETCD_PORT:-23790}
etcd_peer_port=${ETCD_PEER_PORT:-23800}
etcd_url=http://127.0.0.1:$etcd_port

echo "== cargo build --release -p keks-bench"
cargo build --release -p keks-bench

if ! command -v etcd >/dev/null; then
  echo "== installing etcd-server (Debian)"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends etcd-server
fi
etcd --version | head -n 2

data_dir=$(mktemp -d -t keks-bench-etcd.XXXXXX)
etcd_log=$data_dir.log
etcd_pid=
cleanup() {
  if [[ -n $etcd_pid ]]; then
    kill "$etcd_pid" 2>/dev/null || true
    wait "$etcd_pid" 2>/dev/null || true
  fi
  rm -rf "$data_dir" "$etcd_log"
}
trap cleanup EXIT

echo "== starting etcd on $etcd_url (data in $data_dir, fsync on)"
etcd --name keks-bench \
  --data-dir "$data_dir" \
  --listen-client-urls "$etcd_url" \
  --advertise-client-urls "$etcd_url" \
  --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" \
  --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
  --initial-cluster "keks-bench=http://127.0.0.1:$etcd_peer_port" \
  --log-level warn \
  >"$etcd_log" 2>&1 &
etcd_pid=$!

healthy=
for _ in $(seq 1 100); do
  if ! kill -0 "$etcd_pid" 2>/dev/null; then
    echo "error: etcd exited; its log:" >&2
    cat "$etcd_log" >&2
    exit 1
  fi
  if curl -fsS "$etcd_url/health" 2>/dev/null | grep -q '"health":"true"'; then
    healthy=1
    break
  fi
  sleep 0.1
done
if [[ -z $healthy ]]; then
  echo "error: etcd did not become healthy within 10 s; its log:" >&2
  cat "$etcd_log" >&2
  exit 1
fi

echo "== target/release/keks-bench store --etcd $etcd_url $*"
target/release/keks-bench store --etcd "$etcd_url" "$@"
