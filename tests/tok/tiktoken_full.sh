#!/bin/sh
# Slow suite: the full cl100k_base, o200k_base and r50k_base (gpt2) rank files of npm tiktoken,
# imported, give exactly tiktoken's ids on the shipped corpora and the fixture text.
# Skips (77) without node or without tests/bench/node_modules (npm install in tests/bench).
set -u
exe=$1 root=$2
bench=$root/tests/bench
command -v node > /dev/null || { echo "node not found: skipped"; exit 77; }
[ -d "$bench/node_modules/tiktoken" ] || { echo "no tests/bench/node_modules/tiktoken: skipped"; exit 77; }
work=$(mktemp -d "${TMPDIR:-/tmp}/tiktoken-full.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
head -c 2000000 "$root/data/prose/kjv.txt" > "$work/prose.txt"
head -c 2000000 "$root/data/code/python-stdlib.txt" > "$work/code.txt"
cp "$root/tests/tok/fixtures/tiktoken/text.txt" "$work/mixed.txt"
fail=0
for enc in cl100k_base o200k_base r50k_base; do
    node "$bench/tiktoken_encode.js" --ranks $enc "$work/$enc.tiktoken" || exit 1
    "$exe" vocab import-tiktoken "$work/$enc.tiktoken" -o "$work/$enc.pyr" > /dev/null || exit 1
    for f in prose code mixed; do
        node "$bench/tiktoken_encode.js" --ids $enc "$work/$f.txt" > "$work/want"
        "$exe" vocab encode -p "$work/$enc.pyr" --threads 2 "$work/$f.txt" > "$work/got"
        if cmp -s "$work/want" "$work/got"; then
            echo "$enc $f: $(wc -w < "$work/got") ids, the same as tiktoken's"
        else
            echo "FAIL: $enc $f: ids differ from tiktoken's" >&2
            fail=1
        fi
    done
done
exit $fail
