#!/bin/sh
# A chain run's own bound end to end: a tiny checkpoint (6-token windows, the chain
# prefix:0, class) scored by `pyramask score` on a held-out text known in advance (every
# document the same line), against the exact bound computed apart from the harness by
# chain_check (the checkpoint's forward pass on every joint state of the levels of every
# window, each position's weight integrated numerically). Over 10 seeds: the logged
# nelbo_bpb_sched agrees with the exact value within 4 standard errors, at two chain shapes
# whose exact bounds differ (the bound depends on gamma for windows of more than one unit);
# two base schedules of finite variance give the same bound (paired over the seeds, within
# 4 standard errors of the differences).
# Usage: exp_chain_score.sh PYRAMASK DATA_DIR CHAIN_CHECK
CHECKER=$(cd "$(dirname "$3")" && pwd)/$(basename "$3")
. "$(dirname "$0")/exp_lib.sh"

"$P" train -c tiny.ini --set model.seq_len=6 --set model.prior_bias=false \
    --set "mask.chain=prefix:0, class" --set train.steps=150 --set train.batch=32 \
    --set score.samples=0 2>err.txt || { cat err.txt >&2; exit 1; }
ckpt=$(sql "SELECT path FROM artifacts WHERE kind = 'checkpoint'")
pyr=$(sql "SELECT path FROM artifacts WHERE kind = 'pyramid'")
[ -s "$ckpt" ] && [ -s "$pyr" ] || { echo "FAIL no checkpoint or pyramid" >&2; exit 1; }

line='And God said, Let there be a firmament in the midst of the waters, and let it divide.'
i=0
while [ $i -lt 200 ]; do printf '%s\n' "$line"; i=$((i + 1)); done > lines.txt
i=0
while [ $i -lt 20 ]; do printf '%s\n' "$line"; i=$((i + 1)); done > valid.txt
cat > score.ini <<EOT
[data]
corpus = $T/lines.txt
split = lines
valid_fraction = 0.1
[mask]
chain = prefix:0, class
[model]
prior_bias = false
[score]
max_tokens = 384
t_samples = 8
replicates = 2
buckets = 1
EOT
"$P" vocab encode -p "$pyr" --level 1 valid.txt > ids.txt
"$P" vocab encode -p "$pyr" --level 1 --offsets valid.txt > offsets.txt
bytes=$(wc -c < valid.txt)

seeds=10
# score_runs LABEL SETTING...: 10 score runs, their (value, stderr) of nelbo_bpb_sched in LABEL.csv
score_runs() {
    label=$1
    shift
    s=1
    while [ $s -le $seeds ]; do
        "$P" score -c score.ini --checkpoint "$ckpt" --set score.seed=$s "$@" \
            --set "train.seed=$s$label" 2>err.txt || { cat err.txt >&2; fail=1; }
        s=$((s + 1))
    done
}
# the runs of one setting: score runs whose train.seed ends in the label's digits
logged() {
    sql "SELECT s.value, s.stderr FROM runs r
         JOIN scores s ON s.run_id = r.run_id AND s.metric = 'nelbo_bpb_sched'
         JOIN params p ON p.run_id = r.run_id AND p.key = 'train.seed'
         WHERE r.kind = 'score' AND r.status = 'finished' AND p.value LIKE '%$1'
         ORDER BY r.seed, r.run_id"
}

# agree LABEL EXACT: the mean of the seeds within 4 pooled standard errors of EXACT
agree() {
    awk -F, -v e="$2" -v seeds=$seeds '
        { n++; sum += $1; se2 += $2 * $2 }
        END {
            if (n != seeds) { printf "%d logged scores\n", n; exit }
            mean = sum / n; se = sqrt(se2) / n; d = mean - e; if (d < 0) d = -d
            if (!(se > 0) || d > 4 * se) { printf "mean %.6f, exact %.6f: %.6f apart, SE %.6f\n", mean, e, d, se; exit }
            printf "mean of %d seeds %.6f (SE %.6f), exact %.6f\n", n, mean, se, e > "/dev/stderr"
            print "ok" }'
}

for g in 0.5 0.25; do
    case $g in 0.5) label=1 ;; *) label=2 ;; esac
    score_runs $label --set mask.chain_shape=$g
    exact=$("$CHECKER" "$ckpt" ids.txt offsets.txt "$bytes" 64 $g 256 6) ||
        { echo "FAIL chain_check" >&2; exit 1; }
    echo "gamma $g exact (nelbo_bpb_sched bytes tokens): $exact" >&2
    eval "exact_$label=\${exact%% *}"
    expect "gamma $g: logged against exact" ok "$(logged $label | agree $label "${exact%% *}")"
done
# the two shapes' exact bounds differ by more than the estimates' precision
verdict=$(awk -v a="$exact_1" -v b="$exact_2" 'BEGIN { d = a - b; if (d < 0) d = -d; print (d > 1e-3) ? "ok" : "equal: " d }')
expect "the bound depends on gamma" ok "$verdict"

# two base schedules, paired by seed: auto (sinpow:8 for m = 2, gamma 1/2) and sinpow:5
expect "auto scoring schedule recorded" "sinpow:8" \
    "$(sql "SELECT DISTINCT value FROM params WHERE key = 'score.chain_schedule_used'" | head -1)"
score_runs 3 --set score.chain_schedule=sinpow:5
logged 1 > a.csv
logged 3 > b.csv
verdict=$(paste -d, a.csv b.csv | awk -F, '
    { n++; d = $1 - $3; s += d; ss += d * d }
    END {
        if (n < 2) { print "no pairs"; exit }
        mean = s / n; sd = sqrt((ss - n * mean * mean) / (n - 1)); se = sd / sqrt(n)
        m = mean < 0 ? -mean : mean
        if (m > 4 * se) { printf "paired difference %.6f, SE %.6f\n", mean, se; exit }
        printf "paired difference %.6f (SE %.6f)\n", mean, se > "/dev/stderr"
        print "ok" }')
expect "schedule invariance" ok "$verdict"
# a schedule of infinite variance is refused before anything is logged
before=$(sql "SELECT count(*) FROM runs")
"$P" score -c score.ini --checkpoint "$ckpt" --set score.chain_schedule=sinpow:3 2>err.txt
expect "infinite-variance schedule: exit" 2 $?
contains "infinite-variance schedule: message" "score.chain_schedule: 'sinpow:3' gives the chain's estimator an infinite variance" "$(cat err.txt)"
expect "nothing logged" "$before" "$(sql "SELECT count(*) FROM runs")"
exit $fail
