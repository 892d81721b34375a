#!/usr/bin/env bash
# Whole-process `autointerp encode` and the `train-sae` step against PyTorch CPU doing the same
# jobs, with the kernel autointerp picks, the best kernel forced by hand and the old Prescott
# default. Benchmarks only, never in the tests or CI.
#
#   swift build -c release && pip install torch numpy
#   Benchmarks/blas_vs_torch.sh [WORK_DIR]
#   RUNS=2 (runs of everything)  REPEAT=3 (best of, per figure)  PARTS="encode train" (or "ab":
#   no-variable vs forced kernel encode, AB_PAIRS alternating pairs, medians, for a loaded machine)
#   TRAIN_STEPS=40 (autointerp)  TORCH_STEPS=10 (torch's dense step is slow)
#   PARTS=torch: TORCH_PAIRS (5) back-to-back pairs of autointerp and PyTorch encodes, per-pair
#   ratios and their median; BASE=/path/to/older/autointerp adds a before/after column
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${AUTOINTERP:-$here/../.build/release/autointerp}
work=${1:-${TMPDIR:-/tmp}/autointerp-blas-bench}
runs=${RUNS:-2}
repeat=${REPEAT:-3}
parts=${PARTS:-encode train}
steps=${TRAIN_STEPS:-40}
torch_steps=${TORCH_STEPS:-10}
[ -x "$bin" ] || { echo "no $bin: run swift build -c release first" >&2; exit 1; }
python3 -c "import torch, numpy" 2>/dev/null || { echo "needs python3 with torch and numpy (pip install torch numpy)" >&2; exit 1; }
mkdir -p "$work"
python3 "$here/blas_fixtures.py" "$work" >/dev/null

flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
best=default
if [[ $flags == *avx512f* && $flags == *avx512bw* && $flags == *avx512vl* && $flags == *avx512dq* ]]; then best=SkylakeX
elif [[ $flags == *avx2* && $flags == *fma* ]]; then best=Haswell; fi
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores; best kernel by cpuid: $best; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "autointerp picks: $(env -u OPENBLAS_CORETYPE AUTOINTERP_LOG_LEVEL=info "$bin" --version 2>&1 >/dev/null | sed -n 's/.*OpenBLAS kernel: //p')"

# Best wall time in seconds of $repeat runs of "$@"; the last run's output is in $work/last.{out,err}.
wall() {
    local best="" start end t
    for _ in $(seq 1 "${WALL_REPEAT:-$repeat}"); do
        start=$(date +%s.%N)
        "$@" >"$work/last.out" 2>"$work/last.err" || { cat "$work/last.err" >&2; return 1; }
        end=$(date +%s.%N)
        t=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
        if [ -z "$best" ] || awk -v t="$t" -v b="$best" 'BEGIN { exit !(t < b) }'; then best=$t; fi
    done
    echo "$best"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
row() { printf "  %-48s %8s\n" "$1" "$2"; }

for run in $(seq 1 "$runs"); do
    if [[ " $parts " == *" encode "* ]]; then
        echo
        echo "run $run: encode 16,384 tokens F32, d_in 1536 -> d_sae 12288, CSR; whole process, best of $repeat (s); load $(cut -d' ' -f1 /proc/loadavg)"
        enc=(--sae "$work/encode/sae" --activations "$work/encode/acts.safetensors" --quiet)
        d=$(wall env -u OPENBLAS_CORETYPE "$bin" encode "${enc[@]}" --output "$work/ours.safetensors"); row "autointerp, no OPENBLAS_CORETYPE" "$d"
        f=$(wall env OPENBLAS_CORETYPE="$best" "$bin" encode "${enc[@]}" --output "$work/ours-forced.safetensors"); row "autointerp, OPENBLAS_CORETYPE=$best" "$f"
        p=$(wall env OPENBLAS_CORETYPE=Prescott "$bin" encode "${enc[@]}" --output "$work/ours-prescott.safetensors"); row "autointerp, OPENBLAS_CORETYPE=Prescott (before)" "$p"
        r=$(wall env OPENBLAS_CORETYPE=Prescott AUTOINTERP_TEST_IGNORE_OPENBLAS_CORETYPE=1 "$bin" encode "${enc[@]}" --output "$work/ours-recovered.safetensors")
        row "autointerp, Prescott forced as a misdetection" "$r"
        t=$(wall python3 "$here/torch_encode.py" --sae "$work/encode/sae" --activations "$work/encode/acts.safetensors" --output "$work/torch.safetensors")
        ti=$(sed -n 's/.*, \([0-9.]*\) s after import.*/\1/p' "$work/last.out")
        row "PyTorch CPU, whole process" "$t"; row "PyTorch CPU, after 'import torch' (last run)" "$ti"
        echo "  => no-variable / forced time $(ratio "$d" "$f"); Prescott / no-variable $(ratio "$p" "$d")x;" \
            "torch / autointerp $(ratio "$t" "$d")x (after import $(ratio "$ti" "$d")x)"
        python3 - "$here" "$work" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import safetensors_np as st
w = sys.argv[2]
a, b, c = (st.read(f"{w}/{n}.safetensors")[0] for n in ("ours", "torch", "ours-prescott"))
def diff(x, y):
    if x["indptr"].shape != y["indptr"].shape:
        return "different token count"
    rows = int((x["indptr"] != y["indptr"]).sum())
    return f"{x['values'].size - y['values'].size:+d} nnz, {rows} row pointers differ"
print(f"  => nnz {a['values'].size}; vs torch {diff(a, b)}; vs Prescott {diff(a, c)} (values at the zero threshold)")
PY
    fi
    if [[ " $parts " == *" ab "* ]]; then
        pairs=${AB_PAIRS:-5}
        enc=(--sae "$work/encode/sae" --activations "$work/encode/acts.safetensors" --quiet)
        a=(); b=()
        for _ in $(seq 1 "$pairs"); do
            a+=("$(WALL_REPEAT=1 wall env -u OPENBLAS_CORETYPE "$bin" encode "${enc[@]}" --output "$work/ours.safetensors")")
            b+=("$(WALL_REPEAT=1 wall env OPENBLAS_CORETYPE="$best" "$bin" encode "${enc[@]}" --output "$work/ours-forced.safetensors")")
        done
        median() { printf "%s\n" "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
        ma=$(median "${a[@]}"); mb=$(median "${b[@]}")
        echo
        echo "run $run: encode, $pairs alternating pairs (s); load $(cut -d' ' -f1 /proc/loadavg)"
        row "autointerp, no OPENBLAS_CORETYPE: ${a[*]}" "median $ma"
        row "autointerp, OPENBLAS_CORETYPE=$best: ${b[*]}" "median $mb"
        echo "  => no-variable / forced median time $(ratio "$ma" "$mb")"
    fi
    if [[ " $parts " == *" torch "* ]]; then
        # Side by side on a shared machine: each pair runs autointerp then PyTorch back to back, so
        # both see about the same load; the median of the per-pair ratios is the figure to quote.
        # BASE=/path/to/older/autointerp adds it to every pair (before/after in the same run).
        pairs=${TORCH_PAIRS:-5}
        enc=(--sae "$work/encode/sae" --activations "$work/encode/acts.safetensors" --quiet)
        rs=(); bs=()
        echo
        echo "run $run: encode whole process, autointerp (no variable) vs PyTorch CPU, $pairs pairs (s)"
        for i in $(seq 1 "$pairs"); do
            load=$(cut -d' ' -f1 /proc/loadavg)
            a=$(WALL_REPEAT=1 wall env -u OPENBLAS_CORETYPE "$bin" encode "${enc[@]}" --output "$work/ours.safetensors")
            line="  pair $i (load $load): autointerp $a s"
            if [ -n "${BASE:-}" ]; then
                o=$(WALL_REPEAT=1 wall env -u OPENBLAS_CORETYPE "$BASE" encode "${enc[@]}" --output "$work/base.safetensors")
                cmp -s "$work/ours.safetensors" "$work/base.safetensors" && same=identical || same=DIFFERENT
                bs+=("$(ratio "$o" "$a")"); line+=", base $o s (base/new $(ratio "$o" "$a"), output $same)"
            fi
            t=$(WALL_REPEAT=1 wall python3 "$here/torch_encode.py" --sae "$work/encode/sae" --activations "$work/encode/acts.safetensors" --output "$work/torch.safetensors")
            rs+=("$(ratio "$t" "$a")")
            echo "$line, torch $t s => torch/autointerp $(ratio "$t" "$a")x"
        done
        median() { printf "%s\n" "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
        echo "  => median torch/autointerp $(median "${rs[@]}")x${BASE:+; median base/new $(median "${bs[@]}")x}; load now $(cut -d' ' -f1 /proc/loadavg)"
    fi
    if [[ " $parts " == *" train "* ]]; then
        echo
        echo "run $run: train-sae step, d_in 1536 -> d_sae 6144, batch 1024 (ms/step); load $(cut -d' ' -f1 /proc/loadavg)"
        trn=(--activations "$work/train/acts.safetensors" --steps "$steps" --eval-tokens 8192 --log-every 100000)
        ms() { sed -n 's/^trained \([0-9]*\) steps, [0-9]* tokens in \([0-9.]*\) s.*/\1 \2/p' "$work/last.out" | awk '{ printf "%.0f", 1000 * $2 / $1 }'; }
        WALL_REPEAT=1 wall env -u OPENBLAS_CORETYPE "$bin" train-sae "${trn[@]}" --output "$work/sae-default" >/dev/null; d=$(ms)
        row "autointerp train-sae, no OPENBLAS_CORETYPE ($steps steps)" "$d"
        WALL_REPEAT=1 wall env OPENBLAS_CORETYPE=Prescott "$bin" train-sae "${trn[@]}" --output "$work/sae-prescott" >/dev/null; p=$(ms)
        row "autointerp train-sae, Prescott (before)" "$p"
        WALL_REPEAT=1 wall python3 "$here/torch_train_step.py" --activations "$work/train/acts.safetensors" --steps "$torch_steps" >/dev/null
        t=$(sed -n 's/.*, \([0-9.]*\) ms\/step.*/\1/p' "$work/last.out")
        row "PyTorch CPU, same step, dense ($torch_steps steps)" "$t"
        echo "  => torch / autointerp $(ratio "$t" "$d")x; Prescott / no-variable $(ratio "$p" "$d")x"
    fi
done
