#!/usr/bin/env bash
# The LLM stages against a real OpenAI-compatible server: llama.cpp's llama-server with
# SmolLM2-135M-Instruct from ../shared/tools/real-llm (run its setup.sh first), on the built-in
# example (5 features + 3 neurons, default stages). Prints per unit: calls, prompt / cached /
# completion tokens, network time, the share of simulations and rubric examples that parsed.
#
#   Benchmarks/real_llm.sh                  # release build of autointerp; a fresh run each time
#   LOCAL=1 Benchmarks/real_llm.sh          # the harness alone: the local test endpoint at 0 ms
#   RUN_ARGS="--classify-per-call 5" Benchmarks/real_llm.sh   # extra options for both runs
#   PORT=18220 OUT=/tmp/bench Benchmarks/real_llm.sh        # the server's port (default 18210) and the output folder
#   RUN_ARGS="--prompts OLD/prompts --rubric OLD/rubrics/specificity.txt" ...  # measure another prompt set
#
# A tiny model gives poor explanations: judge parsing, cost and robustness here, not quality.
# Not part of the tests or CI.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/.build/release/autointerp}
DEV=${DEV:-$ROOT/.build/release/autointerp-dev}
REAL=${REAL_LLM:-$ROOT/../shared/tools/real-llm}
PORT=${PORT:-18210}
OUT=${OUT:-$(mktemp -d /tmp/autointerp-real-llm.XXXXXX)}
mkdir -p "$OUT"
[ -x "$BIN" ] || { echo "build first: swift build -c release" >&2; exit 1; }

if [ -n "${LOCAL:-}" ]; then
  "$DEV" serve-test --port "$PORT" --latency-ms 0 > "$OUT/endpoint.log" 2>&1 &
  PID=$!
  sleep 1
  MODEL=test-model
else
  # This machine's CPU reports AMX, which the VM does not let programs use: llama.cpp's AMX
  # kernels trap (SIGILL) unless weight repacking is off.
  PID=$(LLAMA_EXTRA_ARGS="${LLAMA_EXTRA_ARGS:---no-repack}" bash "$REAL/start.sh" "$PORT" 2)
  MODEL=smollm2-135m-instruct
fi
trap 'kill $PID 2>/dev/null || true' EXIT

"$BIN" example --output "$OUT/example" > /dev/null
start=$(date +%s.%N)
set +e
/usr/bin/time -f "%U %S" -o "$OUT/time" "$BIN" run --activations "$OUT/example/activations.safetensors" --sae "$OUT/example/sae" \
  --features 0-4 --neurons 0-2 --name real-llm --results "$OUT/results" --endpoint "http://127.0.0.1:$PORT/v1" --model "$MODEL" \
  --quiet ${RUN_ARGS:-} > "$OUT/run.log" 2> "$OUT/run.err"
status=$?
set -e
end=$(date +%s.%N)
wall=$(python3 -c "print($end - $start)")
cpu=$(tail -1 "$OUT/time" | awk '{print $1 + $2}')
echo "autointerp run exited $status (0 complete, 3 units incomplete, 4 stopped); output in $OUT"
grep -E "^(run|  feature|  neuron|failures|LLM)" "$OUT/run.log" || true
python3 "$ROOT/Benchmarks/run_costs.py" "$OUT/results/real-llm/autointerp.sqlite" --wall "$wall" --cpu "$cpu"

# Phase 2: a weak model's explanations are mostly refused (echoes, loops), which leaves the
# simulator and the judge nothing to do. To measure them too, units without an explanation get
# the planted concept's name (explainer `benchmark`), then simulate, score, rubric,
# detection and fuzzing run alone (and the control pass with those explanations).
[ -n "${LOCAL:-}" ] || [ -n "${NO_PHASE2:-}" ] && exit 0
python3 "$ROOT/Benchmarks/name_unexplained.py" "$OUT/results/real-llm/autointerp.sqlite"
start=$(date +%s.%N)
set +e
/usr/bin/time -f "%U %S" -o "$OUT/time2" "$BIN" run --activations "$OUT/example/activations.safetensors" --sae "$OUT/example/sae" \
  --features 0-4 --neurons 0-2 --name real-llm --results "$OUT/results" --endpoint "http://127.0.0.1:$PORT/v1" --model "$MODEL" \
  --stages simulate,score,rubric,detection,fuzzing --quiet ${RUN_ARGS:-} > "$OUT/run2.log" 2> "$OUT/run2.err"
status=$?
set -e
end=$(date +%s.%N)
echo
echo "phase 2 (simulate, score, rubric, detection, fuzzing with fixed explanations where the model's were refused): exited $status"
grep -E "^(failures|LLM)" "$OUT/run2.log" || true
python3 "$ROOT/Benchmarks/run_costs.py" "$OUT/results/real-llm/autointerp.sqlite" --wall "$(python3 -c "print($end - $start)")" \
  --cpu "$(tail -1 "$OUT/time2" | awk '{print $1 + $2}')"
