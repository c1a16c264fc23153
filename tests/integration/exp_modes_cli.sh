#!/bin/sh
# model.mode from the command line: bad block sizes and keys with no meaning for a mode are
# file:line errors (exit 2, no run log); ar and block runs train, score and log nelbo_bpb
# and its learning curve; a checkpoint of one mode scored as another is exit 2 with
# nothing logged; a diffusion config keeps its hash with the new keys at their defaults.
. "$(dirname "$0")/exp_lib.sh"

err() { err=$("$@" 2>&1 >/dev/null); rc=$?; }

printf '[model]\nseq_len = 32\nmode = block\nblock = 5\n' > bad.ini
err "$P" train -c bad.ini
expect "block size exit" 2 "$rc"
expect "block size" "pyramask: train: bad.ini:4: model.block: block size 5 does not divide model.seq_len = 32" "$err"
printf '[model]\nseq_len = 32\nmode = block:6\n' > bad.ini
err "$P" train -c bad.ini
contains "block:B size" "bad.ini:3: model.mode: block size 6 does not divide model.seq_len = 32" "$err"
printf '[model]\nmode = block\n' > bad.ini
err "$P" train -c bad.ini
contains "block without size" "bad.ini:2: model.mode: block needs a block size" "$err"
printf '[model]\nblock = 4\n' > bad.ini
err "$P" train -c bad.ini
contains "block without block mode" "bad.ini:2: model.block: 4 is only for model.mode = block" "$err"
printf '[model]\nmode = spam\n' > bad.ini
err "$P" train -c bad.ini
contains "unknown mode" "bad.ini:2: model.mode: unknown mode 'spam'" "$err"
printf '[mask]\nstructure = span\n[model]\nmode = ar\n' > bad.ini
err "$P" train -c bad.ini
expect "ar structure exit" 2 "$rc"
contains "ar structure" "bad.ini:2: mask.structure: has no meaning for model.mode = ar" "$err"
printf '[mask]\ntypes = class\n' > bad.ini
err "$P" train -c bad.ini --set model.mode=ar
contains "ar types" "bad.ini:2: mask.types: has no meaning for model.mode = ar" "$err"
printf '[model]\nmode = ar\n[score]\nschedule = cosine\n' > bad.ini
err "$P" train -c bad.ini
contains "ar score schedule" "bad.ini:4: score.schedule: has no meaning for model.mode = ar" "$err"
printf '[mask]\nchain = class\n[model]\nmode = block:8\nseq_len = 32\n' > bad.ini
err "$P" train -c bad.ini
contains "block chain" "bad.ini:2: mask.chain: 'class' does not work inside blocks" "$err"
printf '[mask]\ntypes = class\n[model]\nmode = block:8\nseq_len = 32\n' > bad.ini
err "$P" train -c bad.ini
contains "block types" "bad.ini:2: mask.types: 'class' does not work inside blocks" "$err"
[ ! -e pyramask.db ] || { echo "FAIL a bad config created the run log" >&2; fail=1; }

# a structure whose partition spans whole windows: exit 2 before training
printf '[mask]\nstructure = regex\n' > rx.ini
cat tiny.ini rx.ini > block-regex.ini
err "$P" train -c block-regex.ini --set model.mode=block:8 --db regex.db
expect "block regex exit" 2 "$rc"
contains "block regex" "block-regex.ini:$(wc -l < block-regex.ini): mask.structure: 'regex' reveals" "$err"

# the new keys at their defaults leave a diffusion config's hash alone
expect "hash" "$("$P" config hash -c tiny.ini)" \
    "$("$P" config hash -c tiny.ini --set model.mode=diffusion --set model.block=0)"
[ "$("$P" config hash -c tiny.ini)" != "$("$P" config hash -c tiny.ini --set model.mode=ar)" ] ||
    { echo "FAIL model.mode = ar has the diffusion hash" >&2; fail=1; }

# ar and block runs: nelbo_bpb with its standard error, a learning curve, no accuracy
for m in ar block:8; do
    "$P" train -c tiny.ini --set model.mode=$m --set score.samples=0 \
        --set score.curve_every=10 2>err.txt || { cat err.txt >&2; fail=1; }
done
expect "scores" "ar|1|2|0
block:8|1|2|0" "$(sql "SELECT p.value, count(DISTINCT s.metric = 'nelbo_bpb' AND s.stderr > 0),
    (SELECT count(*) FROM metrics m WHERE m.run_id = r.run_id AND m.key = 'curve_nelbo_bpb'),
    (SELECT count(*) FROM scores a WHERE a.run_id = r.run_id AND a.metric LIKE 'masked_acc%')
    FROM runs r JOIN params p ON p.run_id = r.run_id AND p.key = 'model.mode'
    JOIN scores s ON s.run_id = r.run_id AND s.metric = 'nelbo_bpb' GROUP BY r.run_id" |
    tr , '|')"

# a checkpoint scored as another mode: exit 2, nothing logged
ar=$(sql "SELECT a.path FROM artifacts a JOIN params p USING (run_id)
          WHERE a.kind = 'checkpoint' AND p.key = 'model.mode' AND p.value = 'ar'")
before=$(sql "SELECT count(*) FROM runs")
err "$P" score -c tiny.ini --checkpoint "$ar"
expect "ar as diffusion exit" 2 "$rc"
contains "ar as diffusion" "ar model, not diffusion" "$err"
err "$P" score -c tiny.ini --checkpoint "$ar" --set model.mode=block:8
expect "ar as block exit" 2 "$rc"
expect "nothing logged" "$before" "$(sql "SELECT count(*) FROM runs")"
"$P" score -c tiny.ini --checkpoint "$ar" --set model.mode=ar --set score.samples=0 \
    2>err.txt || { cat err.txt >&2; fail=1; }
expect "ar rescored" "$(sql "SELECT value FROM scores s JOIN runs r USING (run_id)
    WHERE r.kind = 'train' AND s.metric = 'nelbo_bpb' AND r.run_id = 1")" \
    "$(sql "SELECT value FROM scores s JOIN runs r USING (run_id)
    WHERE r.kind = 'score' AND s.metric = 'nelbo_bpb'")"
exit $fail
