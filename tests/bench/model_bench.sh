#!/bin/sh
# Benchmarks libmodel against a PyTorch model of the same architecture, side by side:
# tokens/s of a training step and of scoring, small and medium configs, and each as a share
# of this machine's measured cblas_sgemm peak at the same 2 threads.
# Each figure is the best of ROUNDS (3) rounds of STEPS (5) steps, after two warm-up steps.
# Usage: tests/bench/model_bench.sh BUILD/tests/bench/model_bench [tests/bench/model_torch.py]
set -eu
bench=${1:?usage: model_bench.sh PATH/TO/model_bench [model_torch.py]}
torch_py=${2:-$(dirname "$0")/model_torch.py}
steps=${STEPS:-5}
rounds=${ROUNDS:-3}
# Debian's torch, not whatever python3 is first on PATH; its OpenMP pool must not spin
# against OpenBLAS's threads on 2 cores.
py=/usr/bin/python3
have_torch=1
$py -c 'import torch' 2>/dev/null || have_torch=0
[ "$have_torch" = 1 ] || echo "model_bench: no torch for $py (scripts/install-deps.sh bench); ours only" >&2

field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

peak_line=$("$bench" peak)
peak=$(field "$peak_line" sgemm_peak_2t)
echo "uptime: $(uptime)"
echo "cblas_sgemm peak (1536^3, best of 20): $(field "$peak_line" sgemm_peak_1t) GFLOPS on 1 thread, $peak on 2"
echo
rows=""
masked=""

for cfg in small medium; do
    case $cfg in
        small)  V=4096 d=128 L=4 H=4 T=128 B=32 ;;
        medium) V=8192 d=256 L=6 H=8 T=256 B=16 ;;
    esac
    # FLOPs per token: forward = 2 (12 d^2 L + d V) + 4 T d L, training = 3 x forward
    fwd=$(( 2 * (12 * d * d * L + d * V) + 4 * T * d * L ))
    ours=$("$bench" "$cfg" --steps="$steps" --rounds="$rounds" --threads=2)
    if [ "$have_torch" = 1 ]; then
        theirs=$(OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=2 $py "$torch_py" bench \
            --V $V --d $d --L $L --H $H --T $T --B $B --steps "$steps" --rounds "$rounds" \
            --threads 2)
    else
        theirs=""
    fi
    for phase in train score; do
        mult=1; [ $phase = train ] && mult=3
        o=$(field "$ours" ${phase}_tok_s)
        t=$(field "$theirs" ${phase}_tok_s)
        rows="$rows$cfg $phase $o ${t:--} $((mult * fwd))
"
    done
    masked="$masked $cfg=$(field "$ours" masked)"
done
# the peak again at the end: the higher of the two is the machine's
peak2=$(field "$("$bench" peak)" sgemm_peak_2t)
peak=$(awk -v a="$peak" -v b="$peak2" 'BEGIN { print (a > b ? a : b) }')
printf '%-7s %-6s %-8s %12s %8s   %s\n' config phase impl tokens/s "%peak" "ours/torch"
printf '%s' "$rows" | awk -v p="$peak" '{
    printf "%-7s %-6s %-8s %12.0f %7.1f%%   ", $1, $2, "ours", $3, 100 * $3 * $5 / (p * 1e9)
    if ($4 != "-") printf "%.2fx\n", $3 / $4; else printf "-\n"
    if ($4 != "-") printf "%-7s %-6s %-8s %12.0f %7.1f%%\n", $1, $2, "pytorch", $4, 100 * $4 * $5 / (p * 1e9)
}'
echo
echo "%peak: tokens/s x FLOPs/token (3 x forward for train, forward = 2(12 d^2 L + d V) + 4 T d L)"
echo "over the 2-thread peak ($peak GFLOPS, the higher of a measure before and after). Both"
echo "models compute the logits only at masked positions (SUBS), masked share:$masked;"
echo "the formula counts every position, as the peers' FLOPs are usually counted."

