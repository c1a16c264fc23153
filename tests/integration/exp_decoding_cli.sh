#!/bin/sh
# exp_decoding_cli.sh: pyramask sample with every flat strategy and its parameters (flags
# override the checkpoint's [sample] section), the [sample] keys in a run, and parameters
# out of range: exit 2 with the reason, nothing printed as a sample.
AR_REF=$(cd "$(dirname "$3")" && pwd)/$(basename "$3")
. "$(dirname "$0")/exp_lib.sh" "$1" "$2"

"$P" train -c tiny.ini --set sample.remdm_schedule=rescale --set sample.eta=0.5 \
    --set score.sample_strategy=remdm 2>err.txt || { cat err.txt >&2; fail=1; }
ckpt=$(sql "SELECT path FROM artifacts WHERE run_id = 1 AND kind = 'checkpoint'")
samples=$(sql "SELECT path FROM artifacts WHERE run_id = 1 AND kind = 'samples'")
contains "remdm samples artifact" "--- generated 1 (remdm, 4 steps" "$(head -1 "$samples")"
# the samples' quality in the run log, beside the sampler's settings
expect "quality rows" 8 "$(sql "SELECT count(*) FROM scores WHERE run_id = 1 AND split = 'samples'")"
expect "nfe logged" 1 "$(sql "SELECT value > 0 AND value <= 4 FROM scores WHERE run_id = 1 AND metric = 'sample_nfe'")"
expect "measures in range" 1 "$(sql "SELECT min(value >= 0) FROM scores WHERE run_id = 1 AND
    metric IN ('sample_entropy', 'sample_distinct_1', 'sample_repetition', 'sample_js2')")"
expect "decode speed" 1 "$(sql "SELECT value > 0 FROM metrics WHERE run_id = 1 AND key = 'sample_tokens_per_s'")"
expect "length" 32 "$(sql "SELECT value FROM scores WHERE run_id = 1 AND metric = 'sample_length'")"
contains "settings beside it" "eta = 0.5" "$(sql "SELECT config FROM runs WHERE run_id = 1")"
expect "no reference, no gen_bpb" 0 "$(sql "SELECT count(*) FROM scores WHERE metric = 'sample_gen_bpb'")"

# generative bits per byte under an ar reference of the same tokenizer (fresh parameters:
# near log2(V) bits per token); a diffusion checkpoint as reference is refused
"$AR_REF" "$ckpt" ar.ckpt || fail=1
"$P" train -c tiny.ini --set sample.reference="$T/ar.ckpt" 2>err.txt || { cat err.txt >&2; fail=1; }
expect "gen_bpb logged" 1 "$(sql "SELECT value > 0.5 AND value < 20 FROM scores WHERE run_id = 2
    AND metric = 'sample_gen_bpb'")"
# the same pyramid by another path (the run log named relative here, absolute in the
# reference's metadata) is the same tokenizer
"$P" train -c tiny.ini --db pyramask.db --set sample.reference="$T/ar.ckpt" --set train.seed=4 \
    2>err.txt || { cat err.txt >&2; fail=1; }
expect "gen_bpb with the pyramid by another path" 2 \
    "$(sql "SELECT count(*) FROM scores WHERE metric = 'sample_gen_bpb'")"
"$P" train -c tiny.ini --set sample.reference="$ckpt" --set train.seed=5 2>err.txt
expect "diffusion reference exit" 1 "$?"
contains "diffusion reference" "a diffusion model, not ar" "$(cat err.txt)"

contains "config keeps [sample]" "remdm_schedule = rescale" "$("$P" config show -c tiny.ini \
    --set sample.remdm_schedule=rescale)"

for s in random confidence margin entropy block threshold remdm; do
    out=$("$P" sample --checkpoint "$ckpt" --strategy $s --steps 8 -n 2 2>&1) || {
        echo "FAIL sample --strategy $s: $out" >&2
        fail=1
    }
    contains "sample $s" "--- generated 2 ($s, 8 steps" "$out"
done
out=$("$P" sample --checkpoint "$ckpt" --strategy threshold --threshold 0.5 --block 8 2>&1) ||
    fail=1
contains "threshold flags" "--- generated 1 (threshold" "$out"
out=$("$P" sample --checkpoint "$ckpt" --strategy threshold --factor 1 2>&1) || fail=1
contains "factor flag" "--- generated 1 (threshold" "$out"
for sch in cap rescale conf loop; do
    out=$("$P" sample --checkpoint "$ckpt" --strategy remdm --remdm-schedule $sch --eta 0.3 \
        --steps 16 --temperature 0.8 2>&1) || { echo "FAIL remdm $sch: $out" >&2; fail=1; }
    contains "remdm $sch" "--- generated 1 (remdm, 16 steps" "$out"
done
out=$(echo "In the beginning [MASK:6] the earth." |
    "$P" sample --checkpoint "$ckpt" --strategy margin --infill - 2>&1) || fail=1
contains "margin infill" "--- infilled (margin" "$out"

# out of range: exit 2, why, no sample (bad runs in this shell: its checks count)
bad() {
    want=$1
    shift
    out=$("$P" sample --checkpoint "$ckpt" "$@" 2>&1)
    rc=$?
    expect "exit of sample $*" 2 "$rc"
    case "$out" in *"--- generated"*) echo "FAIL sample $*: printed a sample" >&2; fail=1 ;; esac
    contains "sample $*" "$want" "$out"
}
bad "--threshold 1.5: not a number in" --strategy threshold --threshold 1.5
bad "--eta -1: not a number in" --strategy remdm --eta -1
bad "eta 2 outside [0, 1] for schedule rescale" --strategy remdm --remdm-schedule rescale --eta 2
bad "need 0 <= t_off < t_on <= 1" --strategy remdm --remdm-schedule loop --t-on 0.2 --t-off 0.4
bad "unknown remdm schedule 'spam'" --strategy remdm --remdm-schedule spam
bad "unknown strategy 'spam'" --strategy spam
contains "config range" "sample.eta" "$("$P" config show -c tiny.ini --set sample.eta=-1 2>&1)"
exit $fail
