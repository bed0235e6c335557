#!/usr/bin/env bash
# EKS API benchmarks as reported in BENCHMARKS.md, keks beside moto: starts
# `keks up --timing fast --eks-cluster-quota 2000` on a fresh data dir and moto's server
# (`moto[server]`, pinned below, in its own venv target/bench-venv, outside git), both on
# loopback with ports chosen for them, runs `keks-bench eks` against keks (CreateCluster of
# 1,000 clusters → ACTIVE, DescribeCluster and ListClusters requests/s, full ListClusters
# walks, resident memory, CreateCluster → first Kubernetes API request) and then the same
# phases against moto (all but the first request: moto has no Kubernetes API), prints them
# side by side with the ratios, and stops both servers (SIGTERM) on exit.
#
# Usage: scripts/bench-eks.sh [keks-bench eks options...]
#   e.g. scripts/bench-eks.sh --duration-secs 10 --json target/bench-eks.json
# Defaults added here: --first-request 20 (override by passing it).
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION=5.2.5
venv=target/bench-venv

echo "== cargo build --release -p keks -p keks-bench"
cargo build --release -p keks -p keks-bench

if ! "$venv/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
  echo "== installing moto[server]==$MOTO_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "moto[server]==$MOTO_VERSION"
fi

dir=$(mktemp -d -t keks-bench-eks.XXXXXX)
keks_pid=
moto_pid=
cleanup() {
  for pid in $keks_pid $moto_pid; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$dir" "$dir.keks.log" "$dir.moto.log"
}
trap cleanup EXIT

echo "== starting keks (data in $dir)"
target/release/keks up --data-dir "$dir" --aws-port 0 --kube-port 0 --timing fast \
  --eks-cluster-quota 2000 >"$dir.keks.log" 2>&1 &
keks_pid=$!
for _ in $(seq 1 100); do
  if ! kill -0 "$keks_pid" 2>/dev/null; then
    echo "error: keks exited; its log:" >&2
    cat "$dir.keks.log" >&2
    exit 1
  fi
  [[ -s $dir/env.sh ]] && break
  sleep 0.1
done
# shellcheck disable=SC1091
source "$dir/env.sh"
export AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION
echo "== keks pid $keks_pid, AWS endpoint $AWS_ENDPOINT_URL"

moto_port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "== starting moto_server $MOTO_VERSION on 127.0.0.1:$moto_port"
"$venv/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$dir.moto.log" 2>&1 &
moto_pid=$!
for _ in $(seq 1 200); do
  if ! kill -0 "$moto_pid" 2>/dev/null; then
    echo "error: moto_server exited; its log:" >&2
    cat "$dir.moto.log" >&2
    exit 1
  fi
  (echo >"/dev/tcp/127.0.0.1/$moto_port") 2>/dev/null && break
  sleep 0.1
done
echo "== moto pid $moto_pid"

first=(--first-request 20)
for arg in "$@"; do
  [[ $arg == --first-request* ]] && first=()
done
echo "== load before: $(uptime)"
# moto checks no subnets: made-up ids keep it from loading its EC2 backend (~115 MiB) just
# to answer DescribeSubnets, which would inflate its memory. keks gets its default VPC's.
target/release/keks-bench eks --server-pid "$keks_pid" --name keks \
  --compare-endpoint "http://127.0.0.1:$moto_port" --compare-pid "$moto_pid" --compare-name moto \
  --compare-subnet-ids subnet-0000000000000000a,subnet-0000000000000000b \
  "${first[@]}" "$@"
echo "== load after: $(uptime)"
