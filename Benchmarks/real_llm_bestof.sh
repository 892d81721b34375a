#!/usr/bin/env bash
# Best-of-K (--explainer-samples 4) against a real server: llama.cpp's llama-server with
# SmolLM2-135M-Instruct from ../shared/tools/real-llm (run its setup.sh first), on the built-in
# example (5 features + 3 neurons), stages explain + simulate. Three runs through a logging proxy:
#   n      the samples in one call with n (llama.cpp gives at most its slot count of choices)
#   none   the proxy drops n (a server that ignores it): one call per sample
# Prints per unit the explainer's calls (refused ones too) and their tokens: prompt tokens as the
# server billed them, completion tokens as the server reported and as autointerp counted them
# (llama.cpp reports only the first choice's). Calls and tokens, not quality: the model is tiny.
#
#   Benchmarks/real_llm_bestof.sh                 # SLOTS=4: n = 4 is honoured in one call
#   SLOTS=2 Benchmarks/real_llm_bestof.sh         # n = 4 refused once, then two calls of n = 2 per unit
#   BIN=.build/debug/autointerp PORT=18240 Benchmarks/real_llm_bestof.sh
#   FEATURES=0 NEURONS=0 RUN_ARGS="--score-top 1 --score-random 1" MODES=n ...   # fewer units and simulations, one mode
# Not part of the tests or CI.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/.build/release/autointerp}
REAL=${REAL_LLM:-$ROOT/../shared/tools/real-llm}
PORT=${PORT:-18240}
SLOTS=${SLOTS:-4}
FEATURES=${FEATURES:-0-4}
NEURONS=${NEURONS:-0-2}
OUT=${OUT:-$(mktemp -d /tmp/autointerp-real-llm-bestof.XXXXXX)}
mkdir -p "$OUT"
[ -x "$BIN" ] || { echo "build first: swift build -c release" >&2; exit 1; }
PID=$(LLAMA_EXTRA_ARGS="${LLAMA_EXTRA_ARGS:---no-repack}" bash "$REAL/start.sh" "$PORT" "$SLOTS")
PROXY=
trap 'kill $PID 2>/dev/null || true; [ -n "$PROXY" ] && kill $PROXY 2>/dev/null || true' EXIT
MODEL=smollm2-135m-instruct
"$BIN" example --output "$OUT/example" > /dev/null

for mode in ${MODES:-n none}; do
  LOG=$OUT/proxy-$mode.jsonl
  python3 "$ROOT/Benchmarks/bestof_proxy.py" $((PORT + 1)) "$PORT" "$LOG" $([ $mode = none ] && echo --drop-n) &
  PROXY=$!
  sleep 1
  "$BIN" run --activations "$OUT/example/activations.safetensors" --sae "$OUT/example/sae" \
    --features "$FEATURES" --neurons "$NEURONS" --name "bestof-$mode" --results "$OUT/results" --endpoint "http://127.0.0.1:$((PORT + 1))/v1" \
    --model "$MODEL" --stages explain,simulate --controls none --explainer-samples 4 --concurrency 2 --quiet ${RUN_ARGS:-} \
    > "$OUT/run-$mode.log" 2> "$OUT/run-$mode.err" || true
  kill $PROXY; wait $PROXY 2>/dev/null || true
  PROXY=
  python3 - "$LOG" "$OUT/results/bestof-$mode/autointerp.sqlite" "$mode" "http://127.0.0.1:$((PORT + 1))/v1" "$MODEL" <<'PY'
import hashlib, json, sqlite3, sys
log, path, mode, endpoint, model = sys.argv[1:]
db = sqlite3.connect(path)
units = db.execute("SELECT COUNT(*) FROM units").fetchone()[0]
calls = refused = prompt = reported = choices = 0
hashes = []
for line in open(log):
    row = json.loads(line)
    if not row["path"].endswith("/chat/completions"):
        continue
    request = json.loads(row["request"])
    if request.get("max_tokens") != 60:  # the explainer's calls (LLMExplainer.maxTokens)
        continue
    calls += 1
    hashes.append(hashlib.sha256(f"{endpoint}\n{model}\n".encode() + row["request"].encode()).hexdigest())
    if row["status"] != 200:
        refused += 1
        continue
    response = json.loads(row["response"])
    usage = response.get("usage") or {}
    prompt += usage.get("prompt_tokens", 0)
    reported += usage.get("completion_tokens", 0)
    choices += len(response.get("choices", []))
counted = sum(r[0] or 0 for h in set(hashes) for r in db.execute(
    "SELECT completion_tokens FROM llm_calls WHERE request_hash = ? AND cached = 0", (h,)))
samples = db.execute("SELECT COUNT(*) FROM explanations").fetchone()[0]
failed = db.execute("SELECT COUNT(*) FROM explanation_candidate_failures").fetchone()[0]
print(f"{mode:5} explainer per unit: {calls / units:.2f} calls ({refused} refused in the run), {choices / units:.2f} choices, "
      f"{prompt / units:.0f} prompt tokens, {reported / units:.1f} completion tokens reported by the server, "
      f"{counted / units:.1f} counted by autointerp; {samples} samples stored + {failed} candidate failures over {units} units")
PY
done
