#!/bin/sh
# Schedule invariance: one trained checkpoint scored under the linear, cosine and poly
# schedules gives the same NELBO within the Monte Carlo error the runs report (the ELBO of
# a state-independent schedule does not depend on it). Each schedule is scored with its own
# score.seed, so the three estimates are independent and the error of a difference is
# sqrt(se1^2 + se2^2); with shared random numbers it would not be (the paired comparison,
# with the differences' own standard error, is tests/experiments/test_scoring.c, `paired`).
# Also: score, sample, mask preview.
. "$(dirname "$0")/exp_lib.sh"

"$P" train -c tiny.ini --set train.steps=150 2>err.txt || { cat err.txt >&2; exit 1; }
ckpt=$(sql "SELECT path FROM artifacts WHERE kind = 'checkpoint'")
[ -s "$ckpt" ] || { echo "FAIL no checkpoint" >&2; exit 1; }
seed=101
for s in linear cosine poly; do
    "$P" score -c tiny.ini --checkpoint "$ckpt" --set mask.schedule=$s --set score.seed=$seed \
        --set score.max_tokens=4096 --set score.t_samples=8 || fail=1
    seed=$((seed + 1))
done
q="SELECT p.value, s.value, s.stderr FROM runs r JOIN params p ON p.run_id = r.run_id AND p.key = 'mask.schedule' JOIN scores s ON s.run_id = r.run_id AND s.metric = 'nelbo_bpb_sched' WHERE r.kind = 'score' ORDER BY r.run_id"
sql "$q" > nelbo.csv
expect "three scores" 3 "$(wc -l < nelbo.csv | tr -d ' ')"
# every pair agrees within 3 combined standard errors; the estimates are not identical
verdict=$(awk -F, '{ v[NR] = $2; e[NR] = $3; n[NR] = $1 }
    END {
        for (i = 1; i <= NR; i++) {
            if (!(e[i] > 0)) { print "no stderr for " n[i]; exit }
            for (j = i + 1; j <= NR; j++) {
                d = v[i] - v[j]; if (d < 0) d = -d
                tol = 3 * sqrt(e[i] * e[i] + e[j] * e[j])
                if (d > tol) { printf "%s %g vs %s %g differ by %g > %g\n", n[i], v[i], n[j], v[j], d, tol; exit }
                if (d == 0) { printf "%s and %s gave the very same estimate\n", n[i], n[j]; exit }
            }
        }
        print "ok"
    }' nelbo.csv)
expect "schedule invariance" ok "$verdict"
# the canonical score does not depend on the scored config's schedule at all: the linear
# run's seed under another schedule gives the very same canonical score
"$P" score -c tiny.ini --checkpoint "$ckpt" --set mask.schedule=cosine --set score.seed=101 \
    --set score.max_tokens=4096 --set score.t_samples=8 || fail=1
expect "canonical score shared" 1 "$(sql "SELECT count(DISTINCT s.value) FROM scores s JOIN runs r USING (run_id) JOIN params p ON p.run_id = r.run_id AND p.key = 'score.seed' WHERE r.kind = 'score' AND s.metric = 'nelbo_bpb' AND p.value = '101'")"
expect "canonical scores differ by seed" 3 "$(sql "SELECT count(DISTINCT s.value) FROM scores s JOIN runs r USING (run_id) WHERE r.kind = 'score' AND s.metric = 'nelbo_bpb'")"

# the names of what is a bound and what is not: importance-bent masks leave a conditional
# NELBO (its own name, no nelbo_bpb_sched); loss-mode weights are not scored (the same
# corruption with the mode off gives the very same score); what level types reveal is paid
score_q() { # SET...: the run_id of a score run with these settings
    "$P" score -c tiny.ini --checkpoint "$ckpt" --set score.seed=5 "$@" 2>err.txt ||
        { cat err.txt >&2; fail=1; }
    sql "SELECT max(run_id) FROM runs"
}
metric() { sql "SELECT value FROM scores WHERE run_id = $1 AND metric = '$2'"; }
id=$(score_q --set mask.importance=idf --set mask.importance_mode=schedule)
expect "conditional NELBO logged" 1 "$(sql "SELECT count(*) FROM scores WHERE run_id = $id AND metric = 'nelbo_bpb_sched_cond'")"
expect "no bound claimed" 0 "$(sql "SELECT count(*) FROM scores WHERE run_id = $id AND metric = 'nelbo_bpb_sched'")"
off=$(score_q --set mask.importance=idf --set mask.structure=unit)
loss=$(score_q --set mask.importance=idf --set mask.structure=unit --set mask.importance_mode=loss)
expect "loss mode scored as its corruption" "$(metric $off nelbo_bpb_sched)" "$(metric $loss nelbo_bpb_sched)"
verdict=$(awk -v p="$(metric $off part_bpb_sched)" 'BEGIN { print (p > 0.05 ? "ok" : "part_bpb_sched " p) }')
expect "unit structure pays for its partition" ok "$verdict"

# sampling and infilling
out=$("$P" sample --checkpoint "$ckpt" -n 2 --steps 4)
expect "generated" 2 "$(printf '%s\n' "$out" | grep -c '^--- generated')"
out=$(printf 'God said, Let [MASK:2] be light.' | "$P" sample --checkpoint "$ckpt" --infill - --strategy random)
contains "infill keeps the prompt" " be light." "$out"
err=$(printf 'x [MASK:0]' | "$P" sample --checkpoint "$ckpt" --infill - 2>&1 >/dev/null); rc=$?
expect "bad hole exit" 2 "$rc"
contains "bad hole" "pyramask: sample: -: bad hole" "$err"

# mask preview: nothing masked at t = 0, everything at t = 1, types shown
printf 'In the beginning God created the heaven and the earth.\n' > in.txt
last=$("$P" mask preview -c tiny.ini --t 0 in.txt | tail -1)
n=${last#*/}; n=${n% tokens}
expect "t = 0" "masked 0/$n tokens" "$last"
expect "t = 1" "masked $n/$n tokens" "$("$P" mask preview -c tiny.ini --t 1 in.txt | tail -1)"
out=$("$P" mask preview -c tiny.ini --set mask.types=class --set mask.structure=unit --t 0.5 --seed 3 in.txt)
contains "class types shown" "[word" "$out"
for st in token span unit regex block response; do
    for ty in single level class length; do
        last=$("$P" mask preview -c tiny.ini --set mask.structure=$st --set mask.types=$ty --t 0.6 in.txt 2>&1 | tail -1)
        case "$last" in "masked "*"/$n tokens") ;; *) echo "FAIL preview $st/$ty: '$last'" >&2; fail=1 ;; esac
    done
done
expect "response keeps the prompt" "masked $((n - 5))/$n tokens" "$("$P" mask preview -c tiny.ini --set mask.structure=response --set mask.prompt=5 --t 1 in.txt | tail -1)"
err=$("$P" mask preview -c tiny.ini --t 1.5 in.txt 2>&1); rc=$?
expect "bad t exit" 2 "$rc"
exit $fail
