#!/bin/sh
# Many writers on one run log: four sweep processes on the same sweep run every cell once;
# four lone trainings at once all land. Shards: three shards merged equal one unsharded run,
# and merging again adds nothing.
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
exit $fail
