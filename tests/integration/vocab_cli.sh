#!/bin/sh
# `pyramask vocab` end to end on the shipped corpora: build a pyramid, encode and decode at
# every level byte for byte, offsets, threads, stats, SQL on the file, tiktoken import.
set -u
exe=$1 data=$2 fixtures=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/vocab-cli.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
fail=0
err() { echo "FAIL: $*" >&2; fail=1; }

head -c 1000000 "$data/prose/kjv.txt" > "$work/prose.txt"
head -c 600000 "$data/code/python-stdlib.txt" > "$work/code.txt"
"$exe" vocab build --corpus "$work/prose.txt" "$work/code.txt" --levels 500,2000 --superword 3000 \
    -o "$work/p.pyr" > "$work/build.out" || err "build: exit $?"
grep -q "3 levels, 3000 tokens" "$work/build.out" || err "build said: $(cat "$work/build.out")"

if command -v sqlite3 >/dev/null; then
    n=$(sqlite3 "$work/p.pyr" "SELECT count(*) FROM tokens")
    [ "$n" = 3000 ] || err "tokens table has $n rows, expected 3000"
    v=$(sqlite3 "$work/p.pyr" "SELECT group_concat(vocab_size) FROM levels ORDER BY level")
    [ "$v" = "256,500,2000,3000" ] || err "levels table: $v"
    s=$(sqlite3 "$work/p.pyr" "SELECT count(*) FROM tokens WHERE stage = 'superword'")
    [ "$s" = 1000 ] || err "$s superword tokens, expected 1000"
fi

# byte-exact round trips at every level, on text the pyramid saw and did not see, and binary
tail -c 200000 "$data/prose/kjv.txt" > "$work/unseen.txt"
head -c 50000 /dev/urandom > "$work/random.bin"
for f in prose.txt unseen.txt random.bin; do
    for level in 0 1 2 3; do
        "$exe" vocab encode -p "$work/p.pyr" --level $level "$work/$f" > "$work/ids" || err "encode $f level $level"
        "$exe" vocab decode -p "$work/p.pyr" --level $level "$work/ids" > "$work/back" || err "decode $f level $level"
        cmp -s "$work/$f" "$work/back" || err "round trip of $f at level $level differs"
    done
done

# default level is the top one; stdin works; ids and offsets pair up
"$exe" vocab encode -p "$work/p.pyr" --level 3 "$work/code.txt" > "$work/a"
"$exe" vocab encode -p "$work/p.pyr" - < "$work/code.txt" > "$work/b"
cmp -s "$work/a" "$work/b" || err "stdin/default level encoding differs from --level 3"
"$exe" vocab encode -p "$work/p.pyr" --threads 2 "$work/code.txt" > "$work/c"
cmp -s "$work/a" "$work/c" || err "--threads 2 gives other ids"
"$exe" vocab encode -p "$work/p.pyr" --offsets "$work/code.txt" > "$work/o"
[ "$(wc -w < "$work/a")" = "$(wc -w < "$work/o")" ] || err "ids and offsets differ in number"
[ "$(cut -d' ' -f1 "$work/o")" = 0 ] || err "first offset is not 0"
[ "$(wc -l < "$work/a")" = 1 ] || err "ids are not on one line"

# stats: one row per level, fewer tokens at each coarser level
"$exe" vocab stats -p "$work/p.pyr" --corpus "$work/prose.txt" > "$work/stats" || err "stats: exit $?"
awk '$1 ~ /^[0-9]+$/ { if (NR > 3 && $4 >= prev) bad = 1; prev = $4; rows++ }
     END { exit !(rows == 4 && !bad) }' "$work/stats" || err "stats table: $(cat "$work/stats")"

# tiktoken import: the ids of tiktoken itself (fixture ranks renumbered, mapped back)
"$exe" vocab import-tiktoken "$fixtures/tiktoken/cl100k_subset.tiktoken" -o "$work/cl.pyr" > /dev/null ||
    err "import-tiktoken: exit $?"
"$exe" vocab encode -p "$work/cl.pyr" "$fixtures/tiktoken/text.txt" |
    tr ' ' '\n' | awk 'NR == FNR { orig[NR - 1] = $1; next } { printf "%s%s", sep, orig[$1]; sep = " " }
                       END { print "" }' "$fixtures/tiktoken/cl100k_subset.ranks" - > "$work/tk"
cmp -s "$work/tk" "$fixtures/tiktoken/cl100k.ids" || err "imported cl100k ids differ from tiktoken's"

for sub in build encode decode stats import-tiktoken; do
    "$exe" vocab $sub --help > /dev/null || err "vocab $sub --help: exit $?"
done
"$exe" vocab --help > /dev/null || err "vocab --help"
[ $fail = 0 ] && echo "vocab cli: all checks passed"
exit $fail
