#!/usr/bin/env bash
# Issue 20 benchmark (a): a run of UNITS SAE features through the batch transport (`run --batch
# openai`) against the batch test server (`autointerp-dev serve-test --batch`) whose upstream is
# the scripted model at 0 ms, so what is measured is the harness: the waves, the spool files, the
# uploads, polls, downloads, ingests and the stages' replays. Prints, per run, the wall time, the
# harness time per unit, the client's peak resident memory (/usr/bin/time -v), the waves, batch
# files and lines. Benchmarks only, never in the tests or CI.
#
#   swift build -c release && Benchmarks/batch_scale.sh [WORK_DIR]
#   UNITS=2000 RUNS=2 STAGES=explain,simulate,score BIN=.build/release Benchmarks/batch_scale.sh
#
# The dataset is synthetic (Benchmarks/batch_fixtures.py, needs numpy): UNITS neurons over the
# built-in example's planted-concept words, each firing on one word class, so the scripted model
# explains, simulates and scores every unit as it does the example's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${BIN:-$here/../.build/release}
work=${1:-${TMPDIR:-/tmp}/autointerp-batch-scale}
units=${UNITS:-2000}
runs=${RUNS:-2}
stages=${STAGES:-}  # empty: the default stages (and the control pass)
port=${PORT:-18231}
[ -x "$bin/autointerp" ] && [ -x "$bin/autointerp-dev" ] || { echo "no $bin/autointerp: run swift build -c release first" >&2; exit 1; }
mkdir -p "$work"
shape="neurons $units"
if [ "$(cat "$work/shape" 2>/dev/null)" != "$shape" ]; then
    rm -rf "$work/shards"
    python3 "$here/batch_fixtures.py" "$work" --neurons "$units" >/dev/null
    echo "$shape" >"$work/shape"
fi
echo "CPU: $(lscpu | grep 'Model name' | sed 's/.*: *//'), $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "units $units (neurons), stages ${stages:-default}, binary $bin"

server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

for run in $(seq 1 "$runs"); do
    rm -rf "$work/results" "$work/server-state"
    "$bin/autointerp-dev" serve-test --batch --port "$port" --state "$work/server-state" --validate-delay 0.05 --finalize-delay 0.05 \
        >"$work/server.log" 2>&1 &
    server=$!
    for _ in $(seq 100); do grep -qs 'listening on' "$work/server.log" && break; sleep 0.05; done
    start=$(date +%s.%N)
    set +e
    /usr/bin/time -v -o "$work/time.txt" "$bin/autointerp" run --activations "$work/shards" --neurons "0-$((units - 1))" \
        --name scale --results "$work/results" --endpoint "http://127.0.0.1:$port/v1" --model test-model \
        --api-key-env AUTOINTERP_BENCH_NO_KEY ${stages:+--stages "$stages"} --batch openai --batch-poll 0.1 --quiet \
        >"$work/run.out" 2>"$work/run.err"
    status=$?
    set -e
    end=$(date +%s.%N)
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    server=
    [ "$status" = 0 ] || { echo "run $run exited $status:"; tail -5 "$work/run.err"; exit 1; }
    peak=$(grep 'Maximum resident' "$work/time.txt" | awk '{print $NF}')
    cpu=$(grep -E 'User time|System time' "$work/time.txt" | awk '{s += $NF} END {print s}')
    python3 - "$work/results/scale/autointerp.sqlite" "$start" "$end" "$peak" "$cpu" "$units" "$run" <<'PY'
import sqlite3, sys
db, start, end, peak, cpu, units, run = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
c = sqlite3.connect(db)
waves, files, lines, size = c.execute("SELECT COUNT(DISTINCT wave), COUNT(*), SUM(request_count), SUM(bytes) FROM llm_batches").fetchone()
explained = c.execute("SELECT COUNT(DISTINCT unit_id) FROM explanations").fetchone()[0]
wall = end - start
print(f"run {run}: wall {wall:.1f} s, {1000 * wall / units:.1f} ms/unit, client CPU {cpu:.1f} s, peak RSS {peak / 1024:.0f} MB; "
      f"{waves} waves, {files} batch files, {lines} lines ({size / 1e6:.1f} MB of input), {explained} units explained")
PY
done
