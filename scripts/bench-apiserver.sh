#!/usr/bin/env bash
# API server benchmarks as reported in BENCHMARKS.md: starts `keks up` on a fresh data dir
# (ports chosen by the OS), creates the cluster `bench`, runs `keks-bench apiserver` against
# it over HTTPS (HTTP/2, one connection per client) and stops keks (SIGTERM) on exit.
#
# Usage: scripts/bench-apiserver.sh [keks-bench apiserver options...]
#   e.g. scripts/bench-apiserver.sh --duration-secs 10 --json target/bench-apiserver.json
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo build --release -p keks -p keks-bench"
cargo build --release -p keks -p keks-bench

dir=$(mktemp -d -t keks-bench-apiserver.XXXXXX)
keks_pid=
cleanup() {
  if [[ -n $keks_pid ]]; then
    kill -TERM "$keks_pid" 2>/dev/null || true
    wait "$keks_pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

echo "== starting keks (data in $dir)"
target/release/keks up --data-dir "$dir" --aws-port 0 --kube-port 0 >"$dir.log" 2>&1 &
keks_pid=$!
for _ in $(seq 1 100); do
  if ! kill -0 "$keks_pid" 2>/dev/null; then
    echo "error: keks exited; its log:" >&2
    cat "$dir.log" >&2
    exit 1
  fi
  [[ -s $dir/env.sh ]] && break
  sleep 0.1
done
# shellcheck disable=SC1091
source "$dir/env.sh"
export KEKS_KUBE_URL KEKS_ENDPOINT_URL KEKS_ADMIN_TOKEN
echo "== keks pid $keks_pid, kube API $KEKS_KUBE_URL"

target/release/keks dev cluster bench --kubeconfig "$dir/kubeconfig" --data-dir "$dir"
echo "== load before: $(uptime)"
target/release/keks-bench apiserver --kubeconfig "$dir/kubeconfig" --pid "$keks_pid" "$@"
echo "== load after: $(uptime)"
