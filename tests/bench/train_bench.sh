#!/bin/sh
# `pyramask train` end to end (process start to exit) at the small config against
# model_bench's training step and the PyTorch peer's (model_torch.py), side by side.
# Small config: V 4096, d 128, 4 layers, T 128, batch 32, 2 threads, samples off, the
# default final score (16,384 held-out tokens x 4 t-samples). A step's cost is the
# difference of a STEPS-step and a 1-step process over STEPS - 1, for the command and for
# model_bench alike (the same two-point reading); the fixed cost is the 1-step process
# less one step: start, data, pyramid (cached, as in every run after the first), the
# checkpoint and the final score. Each figure is the median of ROUNDS rounds, every round
# running all the peers in turn (the machine may be shared). Wall and CPU seconds.
# Then `pyramask score` of the checkpoint: token-forwards per second (held-out tokens x
# score.t_samples, the difference of 16,384 and 4,096 scored tokens) against model_bench's
# one-pass score with the argmax (what scoring with the accuracy needs).
# Usage: tests/bench/train_bench.sh [BUILD_DIR]   (default: build)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
steps=${STEPS:-21}
rounds=${ROUNDS:-3}
exe=$build/experiments/pyramask
mb=$build/tests/bench/model_bench
[ -x "$exe" ] && [ -x "$mb" ] || { echo "train_bench: build first (meson compile -C $build)" >&2; exit 2; }
[ "$steps" -ge 2 ] || { echo "train_bench: STEPS must be at least 2" >&2; exit 2; }
work=$root/tests/bench/work/train
mkdir -p "$work"
py=/usr/bin/python3
have_torch=1
$py -c 'import torch' 2>/dev/null || have_torch=0
[ "$have_torch" = 1 ] || echo "train_bench: no torch for $py (scripts/install-deps.sh bench); no PyTorch column" >&2
cat > "$work/small.ini" <<EOF
[data]
corpus = $root/data/prose/kjv.txt
[tokenizer]
levels = 4096
model_level = 1
[model]
d = 128
layers = 4
heads = 4
seq_len = 128
[train]
batch = 32
threads = 2
warmup = 0
log_every = 1000
[score]
samples = 0
EOF
db=$work/train.db
# one untimed run builds and caches the pyramid and the encoded corpus
"$exe" train -c "$work/small.ini" --db "$db" --set train.steps=1 > "$work/first.log" 2>&1 ||
    { echo "train_bench: pyramask train failed:" >&2; cat "$work/first.log" >&2; exit 1; }

ckpt=$(ls -t "$work"/pyramask-runs/*/model.ckpt | head -n 1)

# timed LABEL CMD...: appends "LABEL wall cpu" of one process to $work/times.txt
timed() {
    label=$1; shift
    /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" > "$work/$label.log" 2>&1 ||
        { echo "train_bench: $label failed:" >&2; cat "$work/$label.log" >&2; exit 1; }
    awk -v l="$label" '{ print l, $1, $2 + $3 }' "$work/time" >> "$work/times.txt"
}
field() { tr ' ' '\n' < "$1" | sed -n "s/^$2=//p"; }

echo "uptime: $(uptime)"
: > "$work/times.txt"
r=0
while [ $r -lt "$rounds" ]; do
    timed cmd_n "$exe" train -c "$work/small.ini" --db "$db" --set train.steps="$steps"
    timed cmd_1 "$exe" train -c "$work/small.ini" --db "$db" --set train.steps=1
    timed bench_n "$mb" small --steps="$steps" --rounds=1 --threads=2 --train-only
    timed bench_1 "$mb" small --steps=1 --rounds=1 --threads=2 --train-only
    timed score_16k "$exe" score -c "$work/small.ini" --db "$db" --checkpoint "$ckpt"
    timed score_4k "$exe" score -c "$work/small.ini" --db "$db" --checkpoint "$ckpt" \
        --set score.max_tokens=4096
    "$mb" small --steps=8 --rounds=1 --threads=2 --score-only > "$work/bench_score.log"
    echo "bench_score $(field "$work/bench_score.log" score_acc_one_pass_tok_s)" >> "$work/times.txt"
    if [ "$have_torch" = 1 ]; then
        OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=2 $py "$root/tests/bench/model_torch.py" bench \
            --V 4096 --d 128 --L 4 --H 4 --T 128 --B 32 --steps "$steps" --rounds 1 \
            --threads 2 --train-only > "$work/torch.log"
        echo "torch $(field "$work/torch.log" train_tok_s)" >> "$work/times.txt"
    fi
    r=$((r + 1))
done
echo "uptime: $(uptime)"
awk -v S="$steps" -v tok=4096 '
    function median(key,    n, i, j, t, a) {
        n = 0
        for (i = 1; i <= cnt[key]; i++) a[++n] = v[key, i]
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    { k = $1; cnt[k "w"]++; v[k "w", cnt[k "w"]] = $2; if (NF > 2) { cnt[k "c"]++; v[k "c", cnt[k "c"]] = $3 } }
    END {
        cw = (median("cmd_nw") - median("cmd_1w")) / (S - 1); cc = (median("cmd_nc") - median("cmd_1c")) / (S - 1)
        bw = (median("bench_nw") - median("bench_1w")) / (S - 1); bc = (median("bench_nc") - median("bench_1c")) / (S - 1)
        printf "small config, batch 32 x 128 tokens, medians of %d rounds\n", cnt["cmd_nw"]
        printf "  per step          pyramask train %.3f s (%.3f CPU s)  model_bench %.3f s (%.3f CPU s)  ratio x%.3f wall, x%.3f CPU\n", cw, cc, bw, bc, cw / bw, cc / bc
        printf "  fixed cost        %.2f s (%.2f CPU s): start, data, cached pyramid, checkpoint, the default final score\n", median("cmd_1w") - cw, median("cmd_1c") - cc
        e2e = S * tok / median("cmd_nw")
        printf "  end to end        %d steps: %.1f s, %.0f tokens/s; per step alone %.0f tokens/s\n", S, median("cmd_nw"), e2e, tok / cw
        if (cnt["torchw"] > 0) {
            t = median("torchw")
            printf "  PyTorch           %.0f training tokens/s (model_torch.py, best of its round)\n", t
            printf "  pyramask / PyTorch: x%.2f end to end (%d steps, fixed cost included), x%.2f per step\n", e2e / t, S, tok / cw / t
        }
        sw = median("score_16kw") - median("score_4kw"); sc = median("score_16kc") - median("score_4kc")
        fw = 4 * (16384 - 4096)
        printf "  pyramask score    %.0f token-forwards/s (%.0f per CPU s); the default score (16,384 x 4) whole: %.2f s\n", fw / sw, fw / sc, median("score_16kw")
        printf "  model_bench       %.0f token-forwards/s, score with argmax in one pass; pyramask score / model_bench: x%.2f\n", median("bench_scorew"), fw / sw / median("bench_scorew")
    }' "$work/times.txt"
