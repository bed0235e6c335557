#!/usr/bin/env bash
# The managed node group benchmark as reported in BENCHMARKS.md: builds keks (release),
# starts `keks up --timing fast` on a fresh data dir with free ports, and runs
# scripts/bench_nodegroups.py against it with the test virtualenv's boto3, aws CLI and
# kubernetes client (.venv, made as scripts/test makes it): 1,000 nodes from node groups
# scaled up from 0 → time until all are Ready; keks' resident memory per idle node; then a
# Deployment of 10,000 pods → time until all are Running. Stops keks (SIGTERM) on exit.
#
# Usage: scripts/bench-nodegroups.sh [--nodes 1000] [--pods 10000] [--json FILE]
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo build --release -p keks"
cargo build --release -p keks

if ! .venv/bin/python -c 'import boto3, kubernetes' 2>/dev/null; then
  echo "== the test virtualenv (.venv)"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
fi

dir=$(mktemp -d -t keks-bench-ng.XXXXXX)
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
echo "== keks pid $keks_pid; load before: $(uptime)"
.venv/bin/python scripts/bench_nodegroups.py "$dir" "$keks_pid" "$@"
echo "== load after: $(uptime)"
