#!/usr/bin/env bash
# `select --features all` against the pure encode time of the same machine (issue 19), with the
# SAE and with --latents from the CSR `encode` wrote, on a synthetic F16 dataset in shards.
# Benchmarks only, never in the tests or CI.
#
#   swift build -c release && pip install numpy
#   Benchmarks/select_all.sh [WORK_DIR]
#   TOKENS=1000000 D_IN=2304 D_SAE=16384 SHARDS=8 CONTEXT_LEN=256 (the issue's shape)  RUNS=2
#
# Prints per run: wall seconds, CPU seconds and peak resident memory (from /usr/bin/time) of
#   encode   autointerp encode --activations shards/ (CSR to encoded.safetensors)
#   select   autointerp select --features all --sae sae/ --activations shards/
#   latents  autointerp select --features all --latents encoded.safetensors --activations shards/
# and the ratios select/encode and latents/encode (target: select <= 1.25x encode, peak <= 2 GB).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${AUTOINTERP:-$here/../.build/release/autointerp}
work=${1:-${TMPDIR:-/tmp}/autointerp-select-bench}
runs=${RUNS:-2}
[ -x "$bin" ] || { echo "no $bin: run swift build -c release first" >&2; exit 1; }
python3 -c "import numpy" 2>/dev/null || { echo "needs python3 with numpy (pip install numpy)" >&2; exit 1; }
mkdir -p "$work"
shape="${TOKENS:-1000000} ${D_IN:-2304} ${D_SAE:-16384} ${SHARDS:-8} ${CONTEXT_LEN:-256}"
if [ "$(cat "$work/shape" 2>/dev/null)" != "$shape" ]; then
    rm -rf "$work/shards" "$work/sae"
    python3 "$here/select_fixtures.py" "$work" --tokens "${TOKENS:-1000000}" --d-in "${D_IN:-2304}" --d-sae "${D_SAE:-16384}" \
        --shards "${SHARDS:-8}" --context-len "${CONTEXT_LEN:-256}"
    echo "$shape" >"$work/shape"
fi
echo "CPU: $(lscpu | grep 'Model name' | sed 's/.*: *//'), $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "shape (tokens d_in d_sae shards context_len): $shape"

# Runs "$@", prints "<label> <wall s> <CPU s> <peak MB>" (CPU: user + system, both cores; the
# machine's other load shows in wall time, less in CPU time) and leaves the wall seconds in $last.
measure() {
    local label=$1
    shift
    /usr/bin/time -f "%e %M %U %S" -o "$work/time.txt" "$@" >"$work/$label.out" 2>"$work/$label.err" || { cat "$work/$label.err" >&2; exit 1; }
    read -r last peak user system <"$work/time.txt"
    printf '%-8s %8.1f s  cpu %8.1f s  peak %6.0f MB  (load %s)\n' "$label" "$last" "$(echo "$user + $system" | bc -l)" \
        "$(echo "$peak / 1024" | bc -l)" "$(cut -d' ' -f1 /proc/loadavg)"
}

for run in $(seq 1 "$runs"); do
    echo "run $run"
    rm -rf "$work/results" "$work/encoded.safetensors"
    measure encode "$bin" encode --sae "$work/sae" --activations "$work/shards" --output "$work/encoded.safetensors" --quiet
    encode=$last
    measure select "$bin" select --activations "$work/shards" --sae "$work/sae" --features all --name sae --results "$work/results" --quiet
    select=$last
    measure latents "$bin" select --activations "$work/shards" --latents "$work/encoded.safetensors" --features all --name latents \
        --results "$work/results" --quiet
    latents=$last
    grep -h "selection:" "$work/select.out" "$work/latents.out" | sed 's/^/  /'
    printf '  select / encode = %.2f   latents / encode = %.2f\n' "$(echo "$select / $encode" | bc -l)" "$(echo "$latents / $encode" | bc -l)"
done
