#!/bin/sh
# Many writers on one run log: four sweep processes on the same sweep run every cell once;
# four lone trainings at once all land. Shards: three shards merged equal one unsharded run,
# merging again adds nothing, a finished run replaces an unfinished twin with all its rows,
# and a damaged input fails with the reason and changes nothing.
. "$(dirname "$0")/exp_lib.sh"

cat > s.ini <<EOT
[sweep]
name = par
base = tiny.ini
seeds = 1, 2
mask.structure = token, span
mask.schedule = linear, cosine
EOT
for i in 1 2 3 4; do "$P" sweep run s.ini 2>"err$i.txt" & done
for i in 1 2 3 4; do wait %$i 2>/dev/null || wait; done
wait
expect "four writers: every cell once" "8|8|8|1" "$(sql "SELECT count(*), sum(status = 'finished'), count(DISTINCT config_hash || '/' || seed), max(attempts) FROM runs" | tr , '|')"
for i in 1 2 3 4; do
    contains "writer $i" "0 failed, 0 interrupted" "$(cat "err$i.txt")"
done
for s in 1 2 3 4; do "$P" train -c tiny.ini --set train.seed=$s --set train.steps=5 & done
wait
expect "four lone runs" "4|4" "$(sql "SELECT count(*), sum(status = 'finished') FROM runs WHERE sweep_id IS NULL" | tr , '|')"
expect "integrity" ok "$(sql "PRAGMA integrity_check")"

# shards
"$P" sweep run s.ini --db u.db 2>/dev/null
for i in 1 2 3; do "$P" sweep run s.ini --shard $i/3 --db s$i.db 2>/dev/null || fail=1; done
expect "shard sizes" "3 3 2" "$(for i in 1 2 3; do "$P" sql --csv "SELECT count(*) FROM runs" --db s$i.db | tail -1; done | tr '\n' ' ' | sed 's/ $//')"
"$P" db merge m.db s1.db s2.db s3.db 2>/dev/null || fail=1
cells="SELECT s.name, r.config_hash, r.seed, r.status, (SELECT count(*) FROM params p WHERE p.run_id = r.run_id), (SELECT count(*) FROM scores c WHERE c.run_id = r.run_id) FROM runs r JOIN sweeps s USING (sweep_id) ORDER BY 1, 2, 3"
expect "shards merged = unsharded" "$("$P" sql --csv "$cells" --db u.db)" "$("$P" sql --csv "$cells" --db m.db)"
ablation="SELECT factor, level, metric, n FROM v_ablation ORDER BY 1, 2, 3"
expect "same ablation shape" "$("$P" sql --csv "$ablation" --db u.db)" "$("$P" sql --csv "$ablation" --db m.db)"
"$P" db merge m.db s1.db s2.db 2>err.txt || fail=1
contains "merge again" "0 runs added, 0 replaced, 3 already there" "$(cat err.txt)"
expect "merge again adds nothing" 8 "$("$P" sql --csv "SELECT count(*) FROM runs" --db m.db | tail -1)"
if command -v sqlite3 >/dev/null; then
    # a run failed in the output, finished in the input: replaced, with its rows
    rows="SELECT r.config_hash, r.seed, r.status, (SELECT count(*) FROM params p WHERE p.run_id = r.run_id), (SELECT count(*) FROM metrics p WHERE p.run_id = r.run_id), (SELECT count(*) FROM scores p WHERE p.run_id = r.run_id), (SELECT count(*) FROM artifacts p WHERE p.run_id = r.run_id), (SELECT count(*) FROM pyramid_levels p WHERE p.run_id = r.run_id), (SELECT count(*) FROM curves p WHERE p.run_id = r.run_id), (SELECT count(*) FROM previews p WHERE p.run_id = r.run_id) FROM runs r ORDER BY 1, 2"
    cp m.db r.db
    sqlite3 r.db "UPDATE runs SET status = 'failed' WHERE run_id = (SELECT min(run_id) FROM runs); DELETE FROM scores WHERE run_id = (SELECT min(run_id) FROM runs)"
    "$P" db merge r.db s1.db s2.db s3.db 2>err.txt || fail=1
    contains "a failed twin is replaced" "s1.db: 0 runs added, 1 replaced, 2 already there" "$(cat err.txt)"
    expect "a finished run replaces a failed one, with its rows" "$(sqlite3 u.db "$rows")" "$(sqlite3 r.db "$rows")"
    # a damaged input (a table missing): the reason, exit 1, nothing of it in the output
    cp s1.db bad.db
    sqlite3 bad.db "DROP TABLE curves"
    "$P" db merge n.db bad.db 2>err.txt; rc=$?
    expect "a damaged input: exit status" 1 "$rc"
    contains "a damaged input: the reason" "bad.db: preparing: no such table: src.curves" "$(cat err.txt)"
    expect "a damaged input: rolled back" "0|0|0" "$(sqlite3 n.db "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM sweeps), (SELECT count(*) FROM params)" | tr , '|')"
fi
exit $fail
