#!/usr/bin/env bash
# Issue 20 benchmark (c): the built-in example (5 features + 3 neurons, default stages) against a
# real llama.cpp server (SmolLM2-135M-Instruct from ../shared/tools/real-llm; run its setup.sh
# first), once in real time and once through the batch test server in front of it
# (`autointerp-dev serve-test --batch --upstream`, which also forwards the capability probes), and
# prints the parse rates of both: simulations that parsed, rubric examples rated, detection and
# fuzzing answers that parsed. The goal: the same rates (a batch is a transport, not a new pipeline).
#
#   swift build -c release && Benchmarks/batch_real_llm.sh
#   PORT=18230 BATCH_PORT=18232 BIN=.build/release Benchmarks/batch_real_llm.sh
#   RUN_ARGS="--max-in-flight 2" Benchmarks/batch_real_llm.sh   # extra options for both runs (a loaded machine)
#
# A tiny model gives poor explanations: judge parsing here, not quality. Not part of the tests or CI.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/.build/release}
REAL=${REAL_LLM:-$ROOT/../shared/tools/real-llm}
PORT=${PORT:-18230}
BATCH_PORT=${BATCH_PORT:-18232}
OUT=${OUT:-$(mktemp -d /tmp/autointerp-batch-real.XXXXXX)}
mkdir -p "$OUT"
[ -x "$BIN/autointerp" ] || { echo "build first: swift build -c release" >&2; exit 1; }
echo "CPU: $(lscpu | grep 'Model name' | sed 's/.*: *//'), $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"

LLAMA=$(LLAMA_EXTRA_ARGS="${LLAMA_EXTRA_ARGS:---no-repack}" bash "$REAL/start.sh" "$PORT" 2)
SERVER=
trap 'kill $LLAMA 2>/dev/null || true; [ -n "$SERVER" ] && kill $SERVER 2>/dev/null || true' EXIT
MODEL=smollm2-135m-instruct
"$BIN/autointerp" example --output "$OUT/example" > /dev/null

# Runs the example against $1 as run $2 with the extra options after them; prints its parse rates.
run() {
  local endpoint=$1 name=$2
  shift 2
  local start end
  start=$(date +%s.%N)
  set +e
  "$BIN/autointerp" run --activations "$OUT/example/activations.safetensors" --sae "$OUT/example/sae" --features 0-4 --neurons 0-2 \
    --name "$name" --results "$OUT/results" --endpoint "$endpoint" --model "$MODEL" --quiet ${RUN_ARGS:-} "$@" > "$OUT/$name.log" 2> "$OUT/$name.err"
  local status=$?
  set -e
  end=$(date +%s.%N)
  python3 - "$OUT/results/$name/autointerp.sqlite" "$name" "$status" "$(python3 -c "print($end - $start)")" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
q = lambda sql: db.execute(sql).fetchone()
sims_ok, sims = q("SELECT TOTAL(status = 'ok'), COUNT(*) FROM simulations")
rated = q("SELECT COUNT(*) FROM rubric_ratings")[0]
cls_ok, cls = q("SELECT TOTAL(status = 'ok'), COUNT(*) FROM classifications") if db.execute(
    "SELECT 1 FROM sqlite_master WHERE name = 'classifications'").fetchone() else (0, 0)
expl = q("SELECT COUNT(*) FROM explanations WHERE control_of IS NULL")[0]
tiers = dict(db.execute("SELECT tier, COUNT(*) FROM llm_calls WHERE cached = 0 GROUP BY tier").fetchall())
batches = q("SELECT COUNT(*), COUNT(DISTINCT wave) FROM llm_batches")
share = lambda a, b: f"{100 * a / b:.0f} %" if b else "-"
print(f"{sys.argv[2]:9} exit {sys.argv[3]}, {float(sys.argv[4]):.0f} s: explanations {expl}, simulations parsed {int(sims_ok)}/{sims} "
      f"({share(sims_ok, sims)}), rubric examples rated {rated}, classifications parsed {int(cls_ok)}/{cls} ({share(cls_ok, cls)}); "
      f"calls {tiers}, batches {batches[0]} in {batches[1]} waves")
PY
}

run "http://127.0.0.1:$PORT/v1" realtime
"$BIN/autointerp-dev" serve-test --batch --port "$BATCH_PORT" --upstream "http://127.0.0.1:$PORT/v1" --upstream-model "$MODEL" \
  --state "$OUT/batch-state" --validate-delay 0.2 --finalize-delay 0.2 > "$OUT/batch-server.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do grep -qs 'listening on' "$OUT/batch-server.log" && break; sleep 0.05; done
run "http://127.0.0.1:$BATCH_PORT/v1" batch --batch openai --batch-poll 1
echo "output in $OUT"
