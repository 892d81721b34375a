#!/usr/bin/env bash
# The intruder scorer against a real OpenAI-compatible server: llama.cpp's llama-server with
# SmolLM2-135M-Instruct from ../shared/tools/real-llm (run its setup.sh first), on the built-in
# example (5 features + 3 neurons). Prints the share of intruder prompts whose answer parsed
# (target >= 95 %), the accuracy (chance 0.2) and the intruder's calls and tokens per unit.
#
#   Benchmarks/real_llm_intruder.sh            # release build of autointerp; a fresh run each time
#   PORT=18210 Benchmarks/real_llm_intruder.sh
#
# The intruder's scores are stored under each unit's explanation (the prompt never shows it): units
# whose explanation the tiny model could not give get the planted concept's name (explainer
# `benchmark`), as in real_llm.sh's phase 2, then the intruder stage runs alone.
# A tiny model gives poor answers: judge parsing and cost here, not quality. Not part of the tests or CI.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/.build/release/autointerp}
REAL=${REAL_LLM:-$ROOT/../shared/tools/real-llm}
PORT=${PORT:-18210}
OUT=${OUT:-$(mktemp -d /tmp/autointerp-real-llm-intruder.XXXXXX)}
mkdir -p "$OUT"
[ -x "$BIN" ] || { echo "build first: swift build -c release" >&2; exit 1; }
# This machine's CPU reports AMX, which the VM does not let programs use (see real_llm.sh).
PID=$(LLAMA_EXTRA_ARGS="${LLAMA_EXTRA_ARGS:---no-repack}" bash "$REAL/start.sh" "$PORT" 2)
MODEL=smollm2-135m-instruct
trap 'kill $PID 2>/dev/null || true' EXIT

"$BIN" example --output "$OUT/example" > /dev/null
run() {
  ${TIME:-} "$BIN" run --activations "$OUT/example/activations.safetensors" --sae "$OUT/example/sae" \
    --features 0-4 --neurons 0-2 --name real-llm --results "$OUT/results" --endpoint "http://127.0.0.1:$PORT/v1" --model "$MODEL" \
    --quiet "$@" > "$OUT/run.log" 2> "$OUT/run.err" || true
}
run --stages explain --controls none
python3 "$ROOT/Benchmarks/name_unexplained.py" "$OUT/results/real-llm/autointerp.sqlite"
start=$(date +%s.%N)
TIME="/usr/bin/time -f %U,%S -o $OUT/time" run --stages intruder --controls none
end=$(date +%s.%N)
grep -E "^(failures|LLM)" "$OUT/run.log" || true
python3 - "$OUT/results/real-llm/autointerp.sqlite" "$(python3 -c "print($end - $start)")" "$(tail -1 "$OUT/time" | awk -F, "{print \$1 + \$2}")" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
wall, cpu = float(sys.argv[2]), float(sys.argv[3])
total, ok, correct = db.execute(
    "SELECT COUNT(*), SUM(status = 'ok'), SUM(status = 'ok' AND answer = intruder) FROM intruder_prompts").fetchone()
units = db.execute("SELECT COUNT(DISTINCT unit_id) FROM intruder_prompts").fetchone()[0]
calls, prompt, completion, latency = db.execute(
    "SELECT COUNT(*), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(latency_ms), 0) "
    "FROM llm_calls WHERE stage = 'intruder'").fetchone()
first = db.execute("SELECT COUNT(*) FROM intruder_prompts WHERE status = 'ok' AND attempts = 1").fetchone()[0]
print(f"intruder prompts: {total} over {units} units; answers parsed {ok}/{total} = {100 * ok / max(1, total):.1f} % "
      f"(target >= 95 %); accuracy {correct}/{max(1, ok)} = {correct / max(1, ok):.2f} (chance 0.20)")
for row in db.execute("SELECT error, COUNT(*) FROM intruder_prompts WHERE status = 'failed' GROUP BY error"):
    print(f"  failed: {row[1]} x {row[0][:120]}")
print(f"intruder per unit: {calls / max(1, units):.2f} calls (retries included), {prompt / max(1, units):.0f} prompt tokens, "
      f"{completion / max(1, units):.1f} completion tokens, {latency / 1000 / max(1, units):.2f} s network; "
      f"run {wall:.1f} s wall, {cpu:.1f} s CPU")
PY
