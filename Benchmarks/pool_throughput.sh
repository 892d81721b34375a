#!/usr/bin/env bash
# Throughput of a pool of endpoints (--endpoints FILE): `autointerp llm bench` against 1, 2, 4 and 8
# local test endpoints (`autointerp-dev serve-test`) answering after a fixed latency.
#
# Each endpoint has SLOTS slots (max_in_flight), so the ideal is n * SLOTS / latency requests/s;
# the script prints the measured rate and its share of that ideal (goal: >= 90 %).
#
#   swift build -c release && Benchmarks/pool_throughput.sh
#   BIN=.build/release SLOTS=4 LATENCY_MS=100 PER_SLOT=40 Benchmarks/pool_throughput.sh
set -euo pipefail
BIN=${BIN:-.build/release}
SLOTS=${SLOTS:-4}
LATENCY_MS=${LATENCY_MS:-100}
PER_SLOT=${PER_SLOT:-40}   # requests per slot: each run lasts about PER_SLOT * latency
tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

lscpu | grep 'Model name' || true
echo "latency ${LATENCY_MS} ms, ${SLOTS} slots per endpoint, ${PER_SLOT} requests per slot"
printf '%-10s %-12s %-12s %-8s\n' endpoints "requests/s" "ideal/s" "share"
for n in 1 2 4 8; do
  members=()
  for ((i = 0; i < n; i++)); do
    log="$tmp/serve-$n-$i.log"
    "$BIN/autointerp-dev" serve-test --port 0 --latency-ms "$LATENCY_MS" >"$log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do grep -qs 'listening on' "$log" && break; sleep 0.05; done
    url=$(grep -so 'http://127.0.0.1:[0-9]*/v1' "$log" | head -1)
    members+=("{\"name\": \"e$i\", \"url\": \"$url\", \"max_in_flight\": $SLOTS}")
  done
  (IFS=,; echo "{\"group\": \"bench\", \"model\": \"bench\", \"endpoints\": [${members[*]}]}") >"$tmp/pool-$n.json"
  slots=$((n * SLOTS))
  requests=$((slots * PER_SLOT))
  out=$("$BIN/autointerp" llm bench --endpoints "$tmp/pool-$n.json" --api-key-env AUTOINTERP_BENCH_NO_KEY \
    --requests "$requests" --concurrency "$slots" --max-tokens 8)
  rate=$(echo "$out" | grep -o '[0-9.]* requests/s' | head -1 | cut -d' ' -f1)
  ideal=$(awk -v s="$slots" -v l="$LATENCY_MS" 'BEGIN { printf "%.1f", s * 1000 / l }')
  share=$(awk -v r="$rate" -v i="$ideal" 'BEGIN { printf "%.1f %%", 100 * r / i }')
  printf '%-10s %-12s %-12s %-8s\n' "$n" "$rate" "$ideal" "$share"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
done
