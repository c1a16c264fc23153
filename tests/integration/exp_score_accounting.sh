#!/bin/sh
# The canonical score's accounting end to end: a tiny checkpoint (8-token windows) scored by
# `pyramask score` on a held-out text known in advance (every document the same line), and
# the same score computed apart from the harness by score_check (the checkpoint's forward
# pass on every mask of every window, the bytes from the token offsets, the exact standard
# deviation of the estimator). Over 20 seeds: the logged bits per byte agree with the exact
# value, the logged byte count with the text's, the logged standard errors with the exact one.
# Usage: exp_score_accounting.sh PYRAMASK DATA_DIR SCORE_CHECK
CHECKER=$(cd "$(dirname "$3")" && pwd)/$(basename "$3")
. "$(dirname "$0")/exp_lib.sh"

"$P" train -c tiny.ini --set model.seq_len=8 --set model.prior_bias=false \
    --set train.steps=200 --set train.batch=32 --set score.samples=0 2>err.txt ||
    { cat err.txt >&2; exit 1; }
ckpt=$(sql "SELECT path FROM artifacts WHERE kind = 'checkpoint'")
pyr=$(sql "SELECT path FROM artifacts WHERE kind = 'pyramid'")
[ -s "$ckpt" ] && [ -s "$pyr" ] || { echo "FAIL no checkpoint or pyramid" >&2; exit 1; }

# 200 documents, all the same line: whichever 20 are held out, the held-out text is known
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
[model]
prior_bias = false
[score]
max_tokens = 256
t_samples = 4
replicates = 2
buckets = 4
EOT
seeds=20
s=1
while [ $s -le $seeds ]; do
    "$P" score -c score.ini --checkpoint "$ckpt" --set score.seed=$s 2>err.txt ||
        { cat err.txt >&2; fail=1; }
    s=$((s + 1))
done
sql "SELECT s.value, s.stderr, b.value * b.n, s.n FROM runs r
     JOIN scores s ON s.run_id = r.run_id AND s.metric = 'nelbo_bpb'
     JOIN scores b ON b.run_id = r.run_id AND b.metric = 'bytes_per_token'
     WHERE r.kind = 'score' AND r.status = 'finished'" > logged.csv
expect "score runs" $seeds "$(wc -l < logged.csv | tr -d ' ')"

"$P" vocab encode -p "$pyr" --level 1 valid.txt > ids.txt
"$P" vocab encode -p "$pyr" --level 1 --offsets valid.txt > offsets.txt
# 256 tokens = 32 windows of 8; 4 draws of t in 2 replicates; the default estimator
est="$(sql "SELECT value FROM params p JOIN runs r USING (run_id) WHERE r.kind = 'score' AND p.key = 'score.schedule' LIMIT 1")+$(sql "SELECT value FROM params p JOIN runs r USING (run_id) WHERE r.kind = 'score' AND p.key = 'score.time_density' LIMIT 1")"
expect "default estimator" "linear+sqrt:2" "$est"
exact=$("$CHECKER" "$ckpt" ids.txt offsets.txt "$(wc -c < valid.txt)" 32 4 2 "$est") ||
    { echo "FAIL score_check" >&2; exit 1; }
echo "exact (nelbo_bpb sd bytes tokens): $exact"
verdict=$(awk -F, -v e="$exact" -v seeds=$seeds '
    BEGIN { split(e, x, " "); bpb = x[1]; sd = x[2]; bytes = x[3]; tokens = x[4] }
    { n++; sum += $1; se2 += $2 * $2
      if ($4 != tokens) { printf "logged %d tokens, expected %d\n", $4, tokens; bad = 1; exit }
      d = $3 - bytes; if (d < 0) d = -d
      if (d > 1e-6 * bytes) { printf "logged %.10g bytes, the text has %d\n", $3, bytes; bad = 1; exit } }
    END {
        if (bad) exit
        if (n != seeds || !(sd > 0)) { printf "%d logged scores, exact sd %s\n", n, sd; exit }
        mean = sum / n; tol = 4 * sd / sqrt(n); d = mean - bpb; if (d < 0) d = -d
        if (d > tol) { printf "mean nelbo_bpb %.6f, exact %.6f: %.6f apart > %.6f\n", mean, bpb, d, tol; exit }
        r = se2 / n / (sd * sd)
        if (r < 0.7 || r > 1.4) { printf "mean logged SE^2 / exact variance = %.3f\n", r; exit }
        printf "mean of %d seeds %.6f, exact %.6f; mean SE^2 / exact variance %.3f\n", n, mean, bpb, r > "/dev/stderr"
        print "ok"
    }' logged.csv)
expect "accounting" ok "$verdict"

# the run's own corruption: scored once when it is the canonical one (here poly:2 on both
# sides), apart otherwise ("poly" is the same schedule under another spec), bit for bit the
# same; a span corruption differs from the canonical one, which stays as it was
for c in "poly:2 poly" "poly poly" "poly:2 poly span"; do
    set -- $c
    "$P" score -c score.ini --checkpoint "$ckpt" --set score.seed=1 --set score.schedule=$1 \
        --set mask.schedule=$2 --set mask.structure=${3:-token} 2>err.txt ||
        { cat err.txt >&2; fail=1; }
    rid=$(sql "SELECT max(run_id) FROM runs")
    sql "SELECT printf('%.17g %.17g', c.value, o.value) FROM scores c JOIN scores o
         ON o.run_id = c.run_id AND o.metric = 'nelbo_bpb_sched'
         WHERE c.run_id = $rid AND c.metric = 'nelbo_bpb'" > "own-$3$1.txt"
done
read -r once_c once_o < own-poly:2.txt
read -r apart_c apart_o < own-poly.txt
read -r span_c span_o < own-spanpoly:2.txt
expect "own = canonical, scored once" "$once_c" "$once_o"
expect "own scored apart = scored once" "$once_o" "$apart_o"
expect "canonical beside a span corruption" "$once_c" "$span_c"
[ "$span_o" != "$span_c" ] || { echo "FAIL span scored as the canonical corruption" >&2; fail=1; }
exit $fail
