#!/bin/sh
# `pyramask vocab` on bad input: each case exits 2 with "pyramask: vocab ...: why" on stderr
# and leaves no output file (nor a temporary one) behind.
set -u
exe=$1 data=$2 fixtures=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/vocab-bad.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
fail=0
head -c 300000 "$data/prose/kjv.txt" > "$work/prose.txt"
: > "$work/empty.txt"
mkdir "$work/dir"

# expect WHY ARGS...: exit 2, stderr names the vocab command and contains WHY, no out.pyr*
expect() {
    why=$1; shift
    "$exe" "$@" > "$work/stdout" 2> "$work/stderr"; rc=$?
    if [ $rc != 2 ]; then echo "FAIL: exit $rc, expected 2: $*" >&2; fail=1; fi
    grep -q "^pyramask: vocab" "$work/stderr" || { echo "FAIL: no error line for: $*" >&2; fail=1; }
    grep -q -- "$why" "$work/stderr" || { echo "FAIL: '$why' not in: $(cat "$work/stderr")" >&2; fail=1; }
    if ls "$work"/out.pyr* > /dev/null 2>&1; then echo "FAIL: output left by: $*" >&2; fail=1; rm -f "$work"/out.pyr*; fi
}

b="vocab build -o $work/out.pyr"
expect "No such file" $b --corpus "$work/missing.txt" --levels 500
expect "empty file" $b --corpus "$work/empty.txt" --levels 500
expect "directory" $b --corpus "$work/dir" --levels 500
expect "offset" $b --corpus "$work/prose.txt" --levels 500 --pretok '(\p{L}+'
expect "must increase" $b --corpus "$work/prose.txt" --levels 2000,1000
expect "more than the 256" $b --corpus "$work/prose.txt" --levels 200
expect "superword total" $b --corpus "$work/prose.txt" --levels 500,2000 --superword 1500
expect "not a list" $b --corpus "$work/prose.txt" --levels 500,abc
expect "too small" $b --corpus "$work/prose.txt" --levels 90000
expect "no --corpus" $b --levels 500
expect "no output" vocab build --corpus "$work/prose.txt" --levels 500
expect "unknown subcommand" vocab frobnicate

# a good pyramid for the rest
"$exe" vocab build --corpus "$work/prose.txt" --levels 400,800 -o "$work/p.pyr" > /dev/null || fail=1
printf 'hello\n' > "$work/hello.txt"
expect "level 5" vocab encode -p "$work/p.pyr" --level 5 "$work/hello.txt"
expect "No such file" vocab encode -p "$work/missing.pyr" "$work/hello.txt"
expect "No such file" vocab encode -p "$work/p.pyr" "$work/missing.txt"
printf 'this is text, not SQLite\n%.0s' $(seq 100) > "$work/text.pyr"
expect "not a pyramid" vocab encode -p "$work/text.pyr" "$work/hello.txt"
expect "empty file" vocab encode -p "$work/empty.txt" "$work/hello.txt"
if command -v sqlite3 > /dev/null; then
    sqlite3 "$work/foreign.pyr" "CREATE TABLE t(x); INSERT INTO t VALUES (1);"
    expect "application_id" vocab stats -p "$work/foreign.pyr" --corpus "$work/hello.txt"
    cp "$work/p.pyr" "$work/bad.pyr"
    sqlite3 "$work/bad.pyr" "UPDATE tokens SET count = 0 WHERE rank = 300"
    expect "checksum" vocab decode -p "$work/bad.pyr" "$work/hello.txt"
fi
printf '1 2 3\n4 800 5\n' > "$work/ids"
expect "ids:2: id 800 is out of range" vocab decode -p "$work/p.pyr" "$work/ids"
printf '1 2 3\n4 600 5\n' > "$work/ids"
expect "ids:2: id 600 is not in level 1" vocab decode -p "$work/p.pyr" --level 1 "$work/ids"
printf '1 2 x3\n' > "$work/ids"
expect "not a token id" vocab decode -p "$work/p.pyr" "$work/ids"
printf '12 -4\n' > "$work/ids"
expect "not a token id" vocab decode -p "$work/p.pyr" "$work/ids"
expect "empty file" vocab stats -p "$work/p.pyr" --corpus "$work/empty.txt"

o="vocab import-tiktoken -o $work/out.pyr"
printf 'aGk= 0\n!!! 1\n' > "$work/bad.tiktoken"
expect "bad.tiktoken:2: bad base64" $o "$work/bad.tiktoken"
expect "No such file" $o "$work/missing.tiktoken"
expect "offset" $o "$fixtures/tiktoken/cl100k_subset.tiktoken" --pretok '[a-'
[ $fail = 0 ] && echo "vocab bad input: all checks passed"
exit $fail
