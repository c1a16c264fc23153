#!/bin/sh
# `pyramask export` end to end: a tiny sweep (4 runs, seconds) records its pyramid, schedule
# and previews and exports as a page and a notebook; bad logs, sweeps and outputs exit 2 with
# "pyramask: export: why" and leave no file behind.
. "$(dirname "$0")/export_lib.sh"

sweep tiny 'mask.structure = token, span'
expect "pyramid levels: 4 runs x levels 0..3" "16|300|600" \
    "$(sql "SELECT count(*), min(vocab) FILTER (WHERE level = 1), max(vocab) FROM pyramid_levels" | tr , '|')"
expect "distinct tokens used: 1..vocab" 0 \
    "$(sql "SELECT count(*) FROM pyramid_levels WHERE used < 1 OR used > vocab OR used > tokens")"
# the held-out text lies within the corpus's first data.max_bytes: no more distinct bytes
distinct=$(head -c 200000 "$DATA/prose/kjv.txt" | od -An -v -tu1 | tr -s ' ' '\n' | grep . | sort -u | wc -l)
expect "distinct bytes at level 0: at most the corpus's" 1 \
    "$(sql "SELECT max(used) <= $distinct FROM pyramid_levels WHERE level = 0")"
expect "bytes per token grows with the level" 0 \
    "$(sql "SELECT count(*) FROM pyramid_levels a JOIN pyramid_levels b ON b.run_id = a.run_id AND b.level = a.level + 1 WHERE b.tokens >= a.tokens")"
expect "alpha(t) of the linear schedule" "404|linear|1" \
    "$(sql "SELECT count(*), min(label), max(abs(y - (1 - x))) < 1e-12 FROM curves WHERE name = 'alpha'" | tr , '|')"
expect "previews: 3 per run" 12 "$(sql "SELECT count(*) FROM previews WHERE masked <= tokens AND types = '[\"mask\"]'")"
# a stored preview is what `mask preview` prints for the run's config and seed 1
sqlite3 "$PYRAMASK_DB" "SELECT rtrim(text, char(10)) FROM previews p JOIN params k ON k.run_id = p.run_id AND k.key = 'mask.structure' WHERE k.value = 'span' AND p.t = 0.5 LIMIT 1" > stored.txt
"$P" mask preview -c tiny.ini --set mask.structure=span --t 0.5 --seed 1 | sed '$d' > shown.txt
cmp -s stored.txt shown.txt || { echo "FAIL the stored preview differs from mask preview:" >&2; diff stored.txt shown.txt >&2; fail=1; }

# the samples' quality scores, each a chart of the frontier
quality=$(sql "SELECT count(DISTINCT metric) FROM scores WHERE split = 'samples' AND metric NOT IN ('sample_nfe', 'sample_length')")
"$P" export -o report.html; rc=$?
expect "export html" 0 "$rc"
"$P" export --sweep tiny --format ipynb -o report.ipynb; rc=$?
expect "export ipynb" 0 "$rc"
page=$(cat report.html)
contains "the sweep's page" "<h1>Sweep <code>tiny</code></h1>" "$page"
expect "the samples' quality scores" 1 "$([ "$quality" -ge 3 ] && echo 1)"
expect "five figures and the frontier's" $((5 + quality)) "$(grep -c '^<svg ' report.html)"
case "$page" in *"<script"*) echo "FAIL a script in the page" >&2; fail=1 ;; esac
expect "the notebook is JSON: title, setup, 12 sections x 2 cells" "1|4|26" \
    "$(sqlite3 :memory: "SELECT json_valid(readfile('report.ipynb')), readfile('report.ipynb') ->> 'nbformat', json_array_length(readfile('report.ipynb'), '\$.cells')" | tr , '|')"

# errors: exit 2, "pyramask: export: why", no output, nothing left behind
# export_fails WHAT NEEDLE ARGS...
export_fails() {
    what=$1 needle=$2
    shift 2
    before=$(files)
    err=$("$P" export "$@" 2>&1 >/dev/null); rc=$?
    expect "$what: exit" 2 "$rc"
    contains "$what: message" "pyramask: export: $needle" "$err"
    expect "$what: no file left" "$before" "$(files)"
}
export_fails "unknown sweep" "$PYRAMASK_DB: no sweep named 'nope' (sweeps: tiny)" --sweep nope -o out.html
export_fails "missing log" "missing.db: no such run log" --db missing.db -o out.html
printf 'just text, not a database, long enough to fill a header page of sqlite\n' > text.db
export_fails "foreign file" "text.db: not a pyramask run log" --db text.db -o out.html
sqlite3 other.db "CREATE TABLE t(x)"
export_fails "foreign database" "other.db: not a pyramask run log" --db other.db -o out.html
sqlite3 empty.db < "$DATA/../experiments/schema.sql" && sqlite3 empty.db "PRAGMA user_version = 2"
export_fails "empty log" "empty.db: the run log holds no runs" --db empty.db -o out.html
export_fails "unwritable output" "report.html/out.html: Not a directory" -o report.html/out.html
export_fails "output over the log" "$PYRAMASK_DB: is the run log itself" --format html -o "$PYRAMASK_DB"
export_fails "no format" "out.pdf: say --format ipynb or --format html" -o out.pdf
export_fails "bad format" "unknown format 'pdf'" --format pdf -o out.html
# a failed export leaves an existing file as it was
printf 'old\n' > keep.html
"$P" export --sweep nope -o keep.html 2>/dev/null
expect "the old file stays" old "$(cat keep.html)"
exit $fail
