#!/usr/bin/env bash
# The Fargate scale benchmark as reported in BENCHMARKS.md (issue 6): builds release, starts
# `keks up --timing fast` on a fresh data dir, makes a Fargate-only cluster with
# `keks create cluster bench --fargate` (a profile for default and kube-system), then
# `keks-bench fargate` creates one Deployment of --replicas pods (default 10,000) in
# `default` and times it until every pod is Running on its own Fargate node, with keks'
# resident memory before and after. Stops keks (SIGTERM) on exit.
#
# Usage: scripts/bench-fargate.sh [keks-bench fargate options...]
#   e.g. scripts/bench-fargate.sh --replicas 1000 --json target/bench-fargate.json
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo build --release -p keks -p keks-bench"
cargo build --release -p keks -p keks-bench

dir=$(mktemp -d -t keks-bench-fargate.XXXXXX)
keks_pid=
cleanup() {
  if [[ -n $keks_pid ]]; then
    kill -TERM "$keks_pid" 2>/dev/null || true
    wait "$keks_pid" 2>/dev/null || true
  fi
  rm -rf "$dir" "$dir.keks.log"
}
trap cleanup EXIT

echo "== starting keks (data in $dir)"
target/release/keks up --data-dir "$dir" --aws-port 0 --kube-port 0 --timing fast >"$dir.keks.log" 2>&1 &
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
target/release/keks create cluster bench --fargate --data-dir "$dir" --kubeconfig "$dir/kubeconfig"
echo "== load before: $(uptime)"
target/release/keks-bench fargate --kubeconfig "$dir/kubeconfig" --server-pid "$keks_pid" "$@"
echo "== load after: $(uptime)"
