#!/bin/sh
# Chains in the command: mask.chain's errors (file:line, exit 2, nothing in the run log), a
# chain of length 0 is flat masking to the bit, learning curves as metrics, previews of
# descriptions in their notation, sampling a chain checkpoint (generation, infilling, the
# samples artifact) and the error for a chain strategy on a flat checkpoint.
. "$(dirname "$0")/exp_lib.sh"

# err CMD...: runs a command, keeps its stderr in $err and its exit status in $rc
err() { err=$("$@" 2>&1 >/dev/null); rc=$?; }

# bad CHAIN MESSAGE [SET...]: a chain in a config file refused with file:line and exit 2
bad() {
    chain=$1
    msg=$2
    shift 2
    printf '[mask]\nchain = %s\n' "$chain" > bad.ini
    err "$P" train -c bad.ini "$@"
    expect "'$chain' exit" 2 "$rc"
    contains "'$chain' message" "pyramask: train: bad.ini:2: mask.chain: $msg" "$err"
}
# the default pyramid: levels 512, 1024, 2048; the model at level 1
bad "prefix:4" "'prefix:4': the pyramid has no level 4 (levels 0..3)"
bad "prefix:1" "'prefix:1': level 1 is not below the alphabet's level 1"
bad "prefix:0, prefix:0" "'prefix:0': level 0 is not below the alphabet's level 0"
bad "spam" "unknown map 'spam' (prefix:N, class, cluster:C)"
bad "cluster:513" "'cluster:513': 513 clusters are more than the 512 ids of the alphabet (level-1 byte strings)"
bad "prefix:0, cluster:257" "'cluster:257': 257 clusters are more than the 256 ids of the alphabet (level-0 byte strings)"
bad "class, cluster:7" "'cluster:7': 7 clusters are more than the 6 ids of the alphabet (classes)"
bad "class, prefix:0" "'prefix:0' cannot follow classes"
bad "cluster:8, class" "'class' cannot follow clusters"
bad "class, class" "'class' cannot follow classes"
bad "prefix:0,,class" "empty map in 'prefix:0,,class'"
bad "prefix:0, class, cluster:2, cluster:1, cluster:1" "more than 4 maps"
printf '[mask]\nchain = class\ntypes = level\n' > bad.ini
err "$P" train -c bad.ini
expect "level types exit" 2 "$rc"
contains "level types" "pyramask: train: bad.ini:3: mask.types: 'level' cannot be combined with mask.chain = class" "$err"
printf '[mask]\nchain = class\ntypes = length\nstructure = span\n' > bad.ini
err "$P" train -c bad.ini
contains "length types over spans" "bad.ini:3: mask.types: 'length' with mask.structure = span cannot be combined" "$err"
err "$P" train -c tiny.ini --set score.sample_strategy=chain
contains "chain sampler of a flat run" "score.sample_strategy: 'chain' needs mask.chain" "$err"
[ ! -e pyramask.db ] || { echo "FAIL a bad chain created the run log" >&2; fail=1; }

# a chain of length 0 (empty, or none) is flat masking: the same scores to the last bit
"$P" train -c tiny.ini 2>/dev/null || fail=1
"$P" train -c tiny.ini --set mask.chain=none 2>/dev/null || fail=1
scores() { sql "SELECT metric, printf('%.17g', value), printf('%.17g', stderr) FROM scores WHERE run_id = $1 ORDER BY metric"; }
expect "chain none = flat" "$(scores 1)" "$(scores 2)"
[ -n "$(scores 1)" ] || { echo "FAIL no scores" >&2; fail=1; }

# a chain run with a learning curve every 10 of 30 steps, chain samples
"$P" train -c tiny.ini --set "mask.chain=prefix:0, class" --set train.steps=30 \
    --set score.curve_every=10 --set score.curve_tokens=256 \
    --set score.sample_strategy=chain 2>err.txt || { cat err.txt >&2; fail=1; }
expect "curve points" "10 20 30" \
    "$(sql "SELECT group_concat(step, ' ') FROM (SELECT step FROM metrics WHERE run_id = 3 AND key = 'curve_nelbo_bpb_sched' ORDER BY step)")"
expect "curve keys" "curve_nelbo_bpb curve_nelbo_bpb_sched curve_nelbo_bpb_sched_se curve_nelbo_bpb_se" \
    "$(sql "SELECT group_concat(key, ' ') FROM (SELECT DISTINCT key FROM metrics WHERE run_id = 3 AND key LIKE 'curve%' ORDER BY key)")"
expect "chain params" "prefix:0 class|0.5|auto|sinpow:8" \
    "$(sql "SELECT replace(group_concat(value, '|'), ',', '') FROM (SELECT value FROM params WHERE run_id = 3 AND key IN ('mask.chain', 'mask.chain_shape', 'score.chain_schedule', 'score.chain_schedule_used') ORDER BY key)")"
expect "no scoring schedule for a flat run" 0 "$(sql "SELECT count(*) FROM params WHERE key = 'score.chain_schedule_used' AND run_id < 3")"
samples=$(sql "SELECT path FROM artifacts WHERE run_id = 3 AND kind = 'samples'")
contains "chain samples artifact" "--- generated 1 (chain, 4 steps, " "$(head -1 "$samples")"
ckpt=$(sql "SELECT path FROM artifacts WHERE run_id = 3 AND kind = 'checkpoint'")
flat=$(sql "SELECT path FROM artifacts WHERE run_id = 1 AND kind = 'checkpoint'")

# previews: a prefix piece {bytes}, a class <name>, a cluster <#n>, the mask [mask]
"$P" mask preview -c tiny.ini --set "mask.chain=prefix:0, class" --t 0.6 > p.txt ||
    fail=1
contains "preview: a piece" "{" "$(cat p.txt)"
contains "preview: a class" "<word>" "$(cat p.txt)"
contains "preview: the mask" "[mask" "$(cat p.txt)"
names=$(grep -o '<[^>#]*>' p.txt | sort -u | tr -d '<>' | tr '\n' ' ')
for n in $names; do
    case " space number identifier word punct other " in
        *" $n "*) ;;
        *) echo "FAIL preview: unknown class <$n>" >&2; fail=1 ;;
    esac
done
# every piece is one byte (prefix:0), written as {b} or an escape {\n}
pieces=$(grep -o '{[^}]*}' p.txt | grep -v -c '^{.}$\|^{\\.}$')
expect "preview: one-byte pieces" 0 "$pieces"
"$P" mask preview -c tiny.ini --set "mask.chain=cluster:16" --t 0.6 > c.txt || fail=1
big=$(grep -o '<#[0-9]*>' c.txt | tr -d '<#>' | awk '$1 >= 16' | wc -l | tr -d ' ')
[ "$(grep -c '<#' c.txt)" -gt 0 ] || { echo "FAIL preview: no cluster" >&2; fail=1; }
expect "preview: cluster numbers below 16" 0 "$big"

# sampling a chain checkpoint: both chain strategies, infilling; a flat one refuses them
out=$("$P" sample --checkpoint "$ckpt" --strategy chain --steps 8 -n 2 2>&1) || fail=1
contains "sample chain" "--- generated 2 (chain, 8 steps, " "$out"
contains "sample chain: jumps" "of positions jump two levels or more in a step) ---" "$out"
out=$("$P" sample --checkpoint "$ckpt" --strategy chain-confidence --steps 8 2>&1) || fail=1
contains "sample chain-confidence" "--- generated 1 (chain-confidence, 8 steps) ---" "$out"
out=$(echo "In the [MASK:4] God" | "$P" sample --checkpoint "$ckpt" --strategy chain --infill - 2>&1) ||
    fail=1
contains "infill chain" "--- infilled (chain, 32 steps, " "$out"
contains "infill chain: the kept text" "In the " "$out"
err "$P" sample --checkpoint "$flat" --strategy chain
expect "chain strategy on a flat checkpoint: exit" 2 "$rc"
contains "chain strategy on a flat checkpoint" "strategy 'chain' needs a checkpoint trained with a chain" "$err"
# the checkpoint fixes the chain its scores use (its inputs), not the shape
"$P" score -c tiny.ini --checkpoint "$ckpt" --set mask.chain=class --set mask.chain_shape=0.25 \
    2>err.txt || { cat err.txt >&2; fail=1; }
expect "score: the checkpoint's chain, the given shape" "prefix:0 class|0.25" \
    "$(sql "SELECT replace(group_concat(value, '|'), ',', '') FROM (SELECT value FROM params p JOIN runs r USING (run_id) WHERE r.kind = 'score' AND key IN ('mask.chain', 'mask.chain_shape') ORDER BY key)")"
exit $fail
