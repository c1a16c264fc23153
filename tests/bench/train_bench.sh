#!/bin/sh
# `pyramask train` end to end (process start to exit) at the small config against
# model_bench's training step and the PyTorch peer's (model_torch.py), side by side.
# Small config: V 4096, d 128, 4 layers, T 128, batch 32, 2 threads, samples off, the
# default final score (16,384 held-out tokens x 4 t-samples). A step's cost is the
# difference of a STEPS-step and a 1-step process over STEPS - 1, for the command and for
# model_bench alike (the same two-point reading); the fixed cost is the 1-step process
# less one step: start, data, pyramid (cached, as in every run after the first), the
# checkpoint and the final score, each part as that run logged it (its *_seconds metrics).
# Each figure is the median of ROUNDS rounds (5), every round running all the peers in turn
# (the machine may be shared), the command's pair of runs and model_bench's in turn first.
# Wall and CPU seconds.
# Then `pyramask score` of the checkpoint: token-forwards per second (held-out tokens x
# score.t_samples, the difference of 16,384 and 4,096 scored tokens) against model_bench's
# one-pass score with the argmax (what scoring with the accuracy needs).
# Usage: tests/bench/train_bench.sh [BUILD_DIR]   (default: build)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
steps=${STEPS:-21}
rounds=${ROUNDS:-5}
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
bench_pair() {
    timed bench_n "$mb" small --steps="$steps" --rounds=1 --threads=2 --train-only
    timed bench_1 "$mb" small --steps=1 --rounds=1 --threads=2 --train-only
}

echo "uptime: $(uptime)"
: > "$work/times.txt"
r=0
while [ $r -lt "$rounds" ]; do
    # the command's pair and the benchmark's, in turn first (a host whose speed drifts
    # through a round favours neither)
    [ $((r % 2)) = 0 ] || bench_pair
    timed cmd_n "$exe" train -c "$work/small.ini" --db "$db" --set train.steps="$steps"
    timed cmd_1 "$exe" train -c "$work/small.ini" --db "$db" --set train.steps=1
    # where that run's time went, as it logged it (the *_seconds metrics)
    "$exe" sql --db "$db" --csv "SELECT key, value FROM metrics WHERE key LIKE '%\\_seconds' ESCAPE '\\'
        AND run_id = (SELECT max(run_id) FROM runs)" | tail -n +2 | tr ',' ' ' |
        sed 's/^/phase /' >> "$work/times.txt"
    [ $((r % 2)) = 1 ] || bench_pair
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
# every ratio is taken within a round (the peers side by side), then the median over rounds
awk -v S="$steps" -v tok=4096 -v F=$((4 * (16384 - 4096))) '
    function median(key,    n, i, j, t, a) {
        n = 0
        for (i = 1; i <= R; i++) if ((key, i) in v) a[++n] = v[key, i]
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return n == 0 ? 0 : n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    $1 == "cmd_n" { R++ }
    { w[$1] = $2; c[$1] = $3 }
    $1 == "torch" { v["torch", R] = $2 }
    $1 == "bench_score" {
        cw = (w["cmd_n"] - w["cmd_1"]) / (S - 1); cc = (c["cmd_n"] - c["cmd_1"]) / (S - 1)
        bw = (w["bench_n"] - w["bench_1"]) / (S - 1); bc = (c["bench_n"] - c["bench_1"]) / (S - 1)
        v["cw", R] = cw; v["cc", R] = cc; v["bw", R] = bw; v["bc", R] = bc
        v["rw", R] = cw / bw; v["rc", R] = cc / bc
        v["fw", R] = w["cmd_1"] - cw; v["fc", R] = c["cmd_1"] - cc
        v["e2e", R] = S * tok / w["cmd_n"]; v["step", R] = tok / cw
        sw = F / (w["score_16k"] - w["score_4k"])
        v["sw", R] = sw; v["sc", R] = F / (c["score_16k"] - c["score_4k"]); v["s16", R] = w["score_16k"]
        v["bs", R] = $2; v["rs", R] = sw / $2
        v["fp", R] = ph["prepare_seconds"]; v["f1", R] = ph["train_seconds"] - cw
        v["fk", R] = ph["checkpoint_seconds"]; v["fs", R] = ph["score_seconds"]
        v["fo", R] = w["cmd_1"] - cw - ph["prepare_seconds"] - (ph["train_seconds"] - cw) - ph["checkpoint_seconds"] - ph["score_seconds"]
    }
    $1 == "phase" { ph[$2] = $3 }
    END {
        for (i = 1; i <= R; i++) if (("torch", i) in v) { v["te", i] = v["e2e", i] / v["torch", i]; v["ts", i] = v["step", i] / v["torch", i] }
        printf "small config, batch 32 x 128 tokens; ratios within a round, medians of %d rounds\n", R
        printf "  per step          pyramask train %.3f s (%.3f CPU s)  model_bench %.3f s (%.3f CPU s)\n", median("cw"), median("cc"), median("bw"), median("bc")
        printf "  pyramask / model_bench per step: x%.3f wall, x%.3f CPU\n", median("rw"), median("rc")
        printf "  fixed cost        %.2f s (%.2f CPU s): start, data, cached pyramid, checkpoint, the default final score\n", median("fw"), median("fc")
        printf "    of which        data %.2f s (corpus, cached pyramid, encoding), first step beyond a step %.2f, checkpoint %.2f, final score %.2f, the rest %.2f (start, log, model, exit)\n", median("fp"), median("f1"), median("fk"), median("fs"), median("fo")
        printf "  end to end        %d steps: %.0f tokens/s; per step alone %.0f tokens/s\n", S, median("e2e"), median("step")
        if (("torch", 1) in v) {
            printf "  PyTorch           %.0f training tokens/s (model_torch.py, best of its round)\n", median("torch")
            printf "  pyramask / PyTorch: x%.2f end to end (%d steps, fixed cost included), x%.2f per step\n", median("te"), S, median("ts")
        }
        printf "  pyramask score    %.0f token-forwards/s (%.0f per CPU s); the default score (16,384 x 4) whole: %.2f s\n", median("sw"), median("sc"), median("s16")
        printf "  model_bench       %.0f token-forwards/s, score with argmax in one pass; pyramask score / model_bench: x%.2f\n", median("bs"), median("rs")
    }' "$work/times.txt"
