#!/bin/sh
# Every performance figure of the README, each beside its peer, run on this machine, as
# ratios (sections in this order; name some to run only those):
#   tokenizer  training at vocabulary 30000: HF tokenizers' native trainer (2 threads),
#              spm_train (2 threads), pyramask vocab build (2 threads; 1 thread must give the
#              same file): wall time and peak memory; encoding throughput: npm tiktoken
#              (cl100k_base) against pyramask on the same rank file (imported), 1 and 2
#              threads (alternated, round by round, for their ratio) with the host's own
#              reference (2 independent one-thread encodings at once, in the same rounds), and
#              pyramask's own 30000-token pyramid (data/bench/);
#   model      libmodel's training step and scoring against PyTorch's (model_bench.sh), small
#              and medium configs, each as a share of the measured sgemm peak;
#   train      `pyramask train` end to end at the small config against model_bench's step and
#              PyTorch's, the fixed cost per run, `pyramask score` against the forward pass
#              (train_bench.sh);
#   sample     each sampling strategy at the small config: tokens/s, model calls, the share
#              that is the forward passes (sample_bench).
# Each section starts with the machine's load (uptime): the machine may be shared.
# Usage: tests/bench/run.sh [BUILD_DIR] [tokenizer|model|train|sample]...
#        (default: build, every section; needs scripts/install-deps.sh bench)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
[ $# -gt 0 ] && shift
sections=${*:-tokenizer model train sample}
for sec in $sections; do
    case $sec in tokenizer | model | train | sample) ;; *)
        echo "pyramask: bench: unknown section '$sec' (tokenizer, model, train, sample)" >&2
        exit 2 ;;
    esac
done
bench=$root/tests/bench
work=$bench/work
mkdir -p "$work"
exe=$build/experiments/pyramask
enc=$build/tests/bench/bench_encode
for x in "$exe" "$enc" "$build/tests/bench/model_bench" "$build/tests/bench/sample_bench"; do
    [ -x "$x" ] || { echo "pyramask: bench: build first (meson compile -C $build)" >&2; exit 2; }
done
load() { uptime | sed 's/.*load/load/'; }

tokenizer() {
    "$root/data/make-bench-corpora.sh" >&2
    [ -d "$bench/node_modules/tiktoken" ] && [ -d "$bench/node_modules/tokenizers" ] ||
        (cd "$bench" && npm install --no-package-lock --no-audit --no-fund >&2)
    prose=$root/data/bench/prose.txt
    code=$root/data/bench/code.txt

    # run LABEL CMD...: wall seconds and peak resident MB of one run
    run() {
        label=$1; shift
        /usr/bin/time -f "%e %M" -o "$work/time" "$@" > "$work/$label.log" 2>&1 ||
            { echo "pyramask: bench: $label failed:" >&2; cat "$work/$label.log" >&2; exit 1; }
        read -r secs kb < "$work/time"
        echo "$label $secs $((kb / 1024))" >> "$work/train.txt"
    }

    echo "== training, vocabulary 30000, $(wc -c < "$prose") bytes of prose ($(uptime | sed 's/.*load/load/'))"
    : > "$work/train.txt"
    run pyramask "$exe" vocab build --corpus "$prose" --levels 30000 --pretok gpt2 --threads 2 -o "$work/p30.pyr"
    run pyramask-1thread "$exe" vocab build --corpus "$prose" --levels 30000 --pretok gpt2 --threads 1 -o "$work/p30-1.pyr"
    run hf-tokenizers env RAYON_NUM_THREADS=2 node "$bench/hf_train.js" "$prose" "$work/hf.json"
    run spm_train spm_train --input="$prose" --model_prefix="$work/spm" --model_type=bpe --vocab_size=30000 \
        --input_sentence_size=0 --max_sentence_length=65536 --num_threads=2 --normalization_rule_name=identity
    h2=$(sed -n 's/.*hash //p' "$work/pyramask.log"); h1=$(sed -n 's/.*hash //p' "$work/pyramask-1thread.log")
    awk -v same="$([ "$h1" = "$h2" ] && echo yes || echo NO)" '
        NR == 1 { t0 = $2; m0 = $3 }
        { printf "%-18s %8.2f s %7d MB   time x%5.2f  memory x%5.2f of pyramask\n", $1, $2, $3, $2 / t0, $3 / m0 }
        END { print "pyramask 1 thread and 2 threads give the same pyramid: " same }' "$work/train.txt"

    "$exe" vocab import-tiktoken "$work/cl100k.tiktoken" -o "$work/cl100k.pyr" > /dev/null 2>&1 || {
        node "$bench/tiktoken_encode.js" --ranks cl100k_base "$work/cl100k.tiktoken"
        "$exe" vocab import-tiktoken "$work/cl100k.tiktoken" -o "$work/cl100k.pyr" > /dev/null
    }
    for f in "$prose" "$code"; do
        echo "== encoding $(basename "$f") ($(wc -c < "$f") bytes): tiktoken best of 3;" \
            "pyramask's 1 thread, 2 threads and the host's reference (2 independent one-thread" \
            "encodings at once) alternated over 7 rounds"
        node "$bench/tiktoken_encode.js" cl100k_base "$f" 3 | tee "$work/tt.txt"
        "$enc" "$work/cl100k.pyr" "$f" 1 1,2,2x 7 | sed 's/^pyramask/pyramask cl100k/' | tee "$work/ours.txt"
        "$enc" "$work/p30.pyr" "$f" -1 1 3 | sed 's/^pyramask/pyramask own 30000/'
        # the peer ratios from the best runs; 2 threads over 1 from the alternated rounds,
        # beside what 2 independent encodings reach on this host in the same rounds
        awk 'NR == FNR { tt = $(NF - 1); next }
             / threads \/ 1: / { pair = $0; sub(/.* \/ 1: /, "", pair); sub(/, the median.*/, "", pair); next }
             / encodings \/ 1: / { ref = $0; sub(/.* \/ 1: /, "", ref); sub(/, the median.*/, "", ref); next }
             { r[++k] = $(NF - 1) }
             END { printf "pyramask cl100k / tiktoken: x%.2f on 1 thread, x%.2f on 2 (best runs); 2 threads / 1: %s (the host: 2 independent encodings / 1: %s; medians of the alternated rounds)\n",
                          r[1] / tt, r[2] / tt, pair, ref }' "$work/tt.txt" "$work/ours.txt"
    done
}

for sec in $sections; do
    case $sec in
        tokenizer) tokenizer ;;
        model)
            echo "== libmodel against PyTorch ($(load))"
            sh "$bench/model_bench.sh" "$build/tests/bench/model_bench" "$bench/model_torch.py" ;;
        train)
            echo "== pyramask train end to end, small config ($(load))"
            sh "$bench/train_bench.sh" "$build" ;;
        sample)
            echo "== sampling per strategy, small config ($(load))"
            "$build/tests/bench/sample_bench" ;;
    esac
done
echo "== done ($(load))"
