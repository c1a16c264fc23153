#!/bin/sh
# Variable length end to end. data.eot: every document followed by the end-of-text byte 0x03,
# a token of its own; a run trains and scores on the packed text, its samples end at their
# first end of text (lengths in the samples artifact and in sample_length), `pyramask sample`
# reads the setting from the checkpoint; a corpus that holds the byte, and data.eot on the
# markov source, exit 2 with the reason; data.eot = false leaves a config's hash as it was.
# model.edit: a model with [expand]/[delete] trains on DreamOn pairs and fills [MASK:?] holes
# at the length it chooses, the given text unchanged; the combinations that make no sense
# exit 2.
. "$(dirname "$0")/exp_lib.sh"

# every line a document: ends of text are frequent enough that a briefly trained model
# generates them (at this seed, one of the six samples ends early)
"$P" train -c tiny.ini --set data.eot=true --set data.split=lines --set score.samples=6 \
    --set score.sample_strategy=random --set score.sample_steps=8 --set train.steps=40 \
    2>err.txt || { cat err.txt >&2; fail=1; }
expect "finished" finished "$(sql "SELECT status FROM runs WHERE run_id = 1")"
len=$(sql "SELECT value FROM scores WHERE run_id = 1 AND metric = 'sample_length'")
expect "sample_length within the window" 1 "$(sql "SELECT $len > 0 AND $len < 32")"
samples=$(sql "SELECT path FROM artifacts WHERE run_id = 1 AND kind = 'samples'")
heads=$(grep -c -- '^--- generated .* tokens, \(then the\|no\) end of text) ---$' "$samples")
expect "every sample says where it ends" 6 "$heads"
expect "a sample ends early" 1 "$([ "$(grep -c -- ', then the end of text) ---$' "$samples")" -ge 1 ] && echo 1)"
# the mean of the lengths in the artifact is sample_length
mean=$(sed -n 's/^--- generated .*steps, \([0-9]*\) tokens, .*/\1/p' "$samples" |
    awk '{ s += $1 } END { printf "%.4f", s / NR }')
expect "sample_length is the artifact's mean" "$mean" "$(sql "SELECT printf('%.4f', $len)")"
# no end-of-text byte printed inside a generated sample (the infill part after them shows
# held-out windows as they are, ends of text included)
expect "no 0x03 in the samples" 0 "$(sed '/^--- infill/,$d' "$samples" | tr -dc '\003' | wc -c | tr -d ' ')"
ckpt=$(sql "SELECT path FROM artifacts WHERE run_id = 1 AND kind = 'checkpoint'")
out=$("$P" sample --checkpoint "$ckpt" -n 3 --steps 8 2>&1) || { echo "FAIL sample: $out" >&2; fail=1; }
expect "pyramask sample cuts at the end of text" 3 \
    "$(printf '%s\n' "$out" | grep -c -- '^--- generated .* tokens, \(then the\|no\) end of text) ---$')"
# infill never cuts
out=$(echo "In the beginning [MASK:6] the earth." |
    "$P" sample --checkpoint "$ckpt" --infill - 2>&1) || { echo "FAIL infill: $out" >&2; fail=1; }
contains "infill" "--- infilled (" "$out"

# the packed held-out text is scored: more bytes than without (one per document), so
# another bits-per-byte denominator; the config hash tells the runs apart
"$P" train -c tiny.ini --set train.steps=40 --set score.samples=0 2>err.txt ||
    { cat err.txt >&2; fail=1; }
"$P" train -c tiny.ini --set data.eot=false --set train.steps=40 --set score.samples=0 \
    2>err.txt || { cat err.txt >&2; fail=1; }
expect "data.eot = false keeps the hash" 1 "$(sql "SELECT count(DISTINCT config_hash) FROM runs WHERE run_id IN (2, 3)")"
expect "data.eot = true changes it" 2 "$(sql "SELECT count(DISTINCT config_hash) FROM runs WHERE run_id IN (1, 2)")"

# a corpus holding the byte: file:line, exit 2, the run logged as failed with the reason
printf 'In the beginning\n\nGod created\n\nthe heaven \003 and\n\nthe earth\n\n' > etx.txt
for i in 1 2 3 4 5 6 7 8; do printf 'and more words here\n\n' >> etx.txt; done
before=$(sql "SELECT count(*) FROM runs")
err=$("$P" train -c tiny.ini --set data.corpus="$T/etx.txt" --set data.eot=true 2>&1 >/dev/null)
expect "corpus with 0x03: exit" 2 "$?"
contains "corpus with 0x03: message" "etx.txt:5: data.eot: the corpus holds the end-of-text byte 0x03" "$err"
expect "corpus with 0x03: the run failed" "failed|1" "$(sql "SELECT status, error LIKE '%etx.txt:5: data.eot%' FROM runs WHERE run_id = $((before + 1))" | tr , '|')"
# without data.eot the byte is ordinary text
cat > markov.ini <<EOT
[data]
source = markov
eot = true
[model]
kind = oracle
seq_len = 16
EOT
err=$("$P" train -c markov.ini 2>&1 >/dev/null)
expect "markov with eot: exit" 2 "$?"
contains "markov with eot: message" "markov.ini:3: data.eot" "$err"

# model.edit: DreamOn pairs; [MASK:?] filled at the model's length, the given text kept
"$P" train -c tiny.ini --set data.eot=true --set data.split=lines --set model.edit=true \
    --set train.steps=40 --set train.seed=9 --set score.infill=12 2>err.txt ||
    { cat err.txt >&2; fail=1; }
run=$(sql "SELECT max(run_id) FROM runs")
# held-out infill with the length given and hidden
expect "infill scores of an edit model" "5|12" "$(sql "SELECT count(*), min(n) FROM scores WHERE run_id = $run AND split = 'infill'" | tr , '|')"
expect "infill rates in [0, 1], bits positive" 1 "$(sql "SELECT min(CASE WHEN metric = 'infill_bpb_given' THEN value > 0 ELSE value BETWEEN 0 AND 1 END) FROM scores WHERE run_id = $run AND split = 'infill'")"
expect "exact only at the right length" 1 "$(sql "SELECT e.value <= l.value FROM scores e JOIN scores l ON l.run_id = e.run_id AND l.metric = 'infill_length_right_hidden' WHERE e.run_id = $run AND e.metric = 'infill_exact_hidden'")"
"$P" train -c tiny.ini --set data.eot=true --set data.split=lines --set train.steps=40 \
    --set train.seed=9 --set score.infill=12 --set score.samples=0 2>err.txt ||
    { cat err.txt >&2; fail=1; }
plain=$(sql "SELECT max(run_id) FROM runs")
expect "a model without edit classes: the length given only" "infill_bpb_given infill_exact_given infill_token_acc_given" \
    "$(sql "SELECT group_concat(metric, ' ') FROM (SELECT metric FROM scores WHERE run_id = $plain AND split = 'infill' ORDER BY metric)")"
expect "edit run finished" finished "$(sql "SELECT status FROM runs WHERE run_id = $run")"
expect "edit run scored" 1 "$(sql "SELECT value > 0 FROM scores WHERE run_id = $run AND metric = 'nelbo_bpb' AND split = 'valid'")"
eck=$(sql "SELECT path FROM artifacts WHERE run_id = $run AND kind = 'checkpoint'")
out=$(echo "In the beginning [MASK:?] the earth." |
    "$P" sample --checkpoint "$eck" --infill - --steps 8 2>&1) || { echo "FAIL [MASK:?]: $out" >&2; fail=1; }
body=$(printf '%s\n' "$out" | sed 1d)
case "$body" in
    "In the beginning "*" the earth.") ;;
    *) echo "FAIL [MASK:?]: the given text changed: '$body'" >&2; fail=1 ;;
esac
# a model without the edit classes: exit 2 with the reason, nothing printed as a sample
out=$(echo "In the beginning [MASK:?] the earth." | "$P" sample --checkpoint "$ckpt" --infill - 2>&1)
expect "[MASK:?] without edit classes: exit" 2 "$?"
contains "[MASK:?] without edit classes" "needs a model with [expand] and [delete]" "$out"
case "$out" in *"--- infilled"*) echo "FAIL a sample printed after the error" >&2; fail=1 ;; esac
out=$(echo "In the beginning" | "$P" sample --checkpoint "$eck" --infill - 2>&1)
expect "no hole: exit" 2 "$?"
contains "no hole" "no hole to fill" "$out"
out=$(echo "In the [MASK:?x] beginning" | "$P" sample --checkpoint "$eck" --infill - 2>&1)
expect "bad hole: exit" 2 "$?"
contains "bad hole" "bad hole near" "$out"

# combinations that make no sense: file:line, exit 2
edit_fails() {
    what=$1 needle=$2
    shift 2
    printf '[model]\nedit = true\n' > edit.ini
    printf '%s\n' "$@" >> edit.ini
    printf '[data]\ncorpus = %s/prose/kjv.txt\n' "$DATA" >> edit.ini
    err=$("$P" train -c edit.ini 2>&1 >/dev/null)
    expect "$what: exit" 2 "$?"
    contains "$what: message" "$needle" "$err"
}
edit_fails "edit without eot" "edit.ini:2: model.edit: needs data.eot = true"
edit_fails "edit under ar" "edit.ini:2: model.edit: needs model.mode = diffusion" "mode = ar" "[data]" "eot = true"
err=$("$P" train -c tiny.ini --set score.infill=4 --set model.mode=ar 2>&1 >/dev/null)
expect "infill under ar: exit" 2 "$?"
contains "infill under ar" "score.infill: needs a diffusion transformer on flat masking" "$err"
err=$("$P" train -c tiny.ini --set score.infill=4 --set score.infill_max=17 2>&1 >/dev/null)
expect "infill hole too long: exit" 2 "$?"
contains "infill hole too long" "score.infill_max: 17 tokens" "$err"
printf '[train]\nedit_delete = 0.2\n[data]\ncorpus = %s/prose/kjv.txt\n' "$DATA" > rate.ini
err=$("$P" train -c rate.ini 2>&1 >/dev/null)
expect "edit rate alone: exit" 2 "$?"
contains "edit rate alone" "rate.ini:2: train.edit_delete: has no meaning without model.edit = true" "$err"
exit $fail
