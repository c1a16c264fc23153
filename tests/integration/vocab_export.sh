#!/bin/sh
# `pyramask vocab export` against the libraries that load its files: a level exported as a
# tokenizer.json (npm tokenizers) and as a tiktoken rank file (npm tiktoken) encodes a 6 MB
# text, and every code point of Unicode 14 in context, to exactly the ids of `pyramask vocab
# encode`; an imported cl100k exported as a tokenizer.json encodes as tiktoken does; levels a
# format cannot express are refused with the reason and leave no file.
# Usage: vocab_export.sh PYRAMASK DATA_DIR BENCH_DIR [full|quick]
#   BENCH_DIR holds package.json (npm install runs there when its node_modules lack the
#   packages, as tests/bench/run.sh does); `full` checks every level, the code and
#   whitespace presets, imported o200k, and cl100k on the whole text as well; `quick` (for
#   sanitizer builds, whose debug code is ten times slower) cuts the 6 MB text to 500 kB.
# Skips (77) where node, npm or the packages cannot be had.
set -u
exe=$1 data=$2 bench=$3 full=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
    { echo "SKIP: node and npm are needed (scripts/install-deps.sh bench)"; exit 77; }
if ! [ -d "$bench/node_modules/tiktoken" ] || ! [ -d "$bench/node_modules/tokenizers" ]; then
    (cd "$bench" && npm install --no-package-lock --no-audit --no-fund >&2) ||
        { echo "SKIP: npm install of tiktoken and tokenizers failed in $bench"; exit 77; }
fi
export NODE_PATH="$bench/node_modules"
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 is needed to write the texts"; exit 77; }
work=$(mktemp -d "${TMPDIR:-/tmp}/vocab-export.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
fail=0
err() { echo "FAIL: $*" >&2; fail=1; }

# text6: the King James Bible and Python's standard library, 6,000,000 bytes cut at a line
# end; unicode.txt: every code point that Unicode 14 assigns (the tables of PCRE2 10.42 and
# of this Python), surrogates and private use left out, each between two others of a cycle
# of contexts (letters, digits, blanks, an apostrophe, newlines, punctuation) and doubled
size=6000000
[ "$full" = quick ] && size=500000
python3 - "$data" "$work" "$size" <<'EOF' || exit 1
import sys, unicodedata
data, work, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
text = open(data + "/prose/kjv.txt", "rb").read() + open(data + "/code/python-stdlib.txt", "rb").read()
text = text[:size]
text = text[:text.rindex(b"\n") + 1]
text += b"x" * (size - len(text) - 1) + b"\n"
open(work + "/text6.txt", "wb").write(text)
ctx = ["a", " ", "'", "1", "\n", "A", "  ", "_", "\t", "-", "\r\n", "."]
out = []
for c in range(0x110000):
    ch = chr(c)
    if 0xD800 <= c <= 0xDFFF or unicodedata.category(ch) in ("Cn", "Co", "Cs"):
        continue
    out.append(ctx[(c // 3) % len(ctx)] + ch + ch)
open(work + "/unicode.txt", "w", encoding="utf-8").write("".join(out) + "\n")
print(f"texts: {size:,} bytes; every assigned code point of Unicode {unicodedata.unidata_version}", file=sys.stderr)
EOF
t6=$work/text6.txt uni=$work/unicode.txt

# check PYR LEVEL FILE...: both exports of the level encode each file as pyramask does
check() {
    pyr=$1 level=$2
    shift 2
    "$exe" vocab export "$pyr" --level "$level" --format hf -o "$work/tok.json" > /dev/null ||
        { err "export $pyr level $level as hf: exit $?"; return; }
    "$exe" vocab export "$pyr" --level "$level" --format tiktoken -o "$work/ranks" > "$work/out" ||
        { err "export $pyr level $level as tiktoken: exit $?"; return; }
    sed -n 's/^pat_str: //p' "$work/out" > "$work/pat"
    [ -s "$work/pat" ] || err "export $pyr level $level: no pat_str line in: $(cat "$work/out")"
    for f in "$@"; do
        name="$(basename "$pyr") level $level on $(basename "$f")"
        "$exe" vocab encode -p "$pyr" --level "$level" "$f" > "$work/want" || err "encode $name"
        # the two encoders run side by side (two cores)
        node "$here/export_encode.js" hf "$work/tok.json" "$f" > "$work/hf" &
        hf_pid=$!
        node "$here/export_encode.js" tiktoken "$work/ranks" "$work/pat" "$f" > "$work/tt" ||
            err "tiktoken on $name: exit $?"
        wait $hf_pid || err "tokenizers on $name: exit $?"
        cmp -s "$work/want" "$work/hf" || err "tokenizers encodes $name differently from pyramask"
        cmp -s "$work/want" "$work/tt" || err "tiktoken encodes $name differently from pyramask"
        [ "$(wc -w < "$work/want")" -gt 0 ] || err "no ids for $name"
    done
}

# a gpt2 pyramid of the text with a superword level: its subword levels on both texts
"$exe" vocab build --corpus "$t6" --levels 512,4096 --superword 6000 --pretok gpt2 \
    -o "$work/gpt2.pyr" > /dev/null || err "build gpt2: exit $?"
check "$work/gpt2.pyr" 2 "$t6" "$uni"
if [ "$full" = full ]; then
    check "$work/gpt2.pyr" 0 "$t6"
    check "$work/gpt2.pyr" 1 "$t6" "$uni"
fi

# the other presets: a small pyramid, its top level on the code points and a slice of text
# (code and whitespace in the full run)
head -c 100000 "$t6" > "$work/small.txt"
presets="cl100k o200k"
[ "$full" = full ] && presets="cl100k o200k code whitespace"
for p in $presets; do
    "$exe" vocab build --corpus "$work/small.txt" --levels 300,1000 --pretok $p \
        -o "$work/$p.pyr" > /dev/null || err "build $p: exit $?"
    check "$work/$p.pyr" 2 "$uni" "$work/small.txt"
done

# the levels that cannot be expressed: refused with the reason, exit 2, no file
for f in hf tiktoken; do
    rm -f "$work/x"
    "$exe" vocab export "$work/gpt2.pyr" --level 3 --format $f -o "$work/x" 2> "$work/e"
    rc=$?
    [ $rc = 2 ] || err "superword level as $f: exit $rc, expected 2"
    grep -q "level 3 is a superword level" "$work/e" || err "superword as $f said: $(cat "$work/e")"
    [ ! -e "$work/x" ] || err "superword level as $f left a file"
done
"$exe" vocab build --corpus "$work/small.txt" --levels 300 --pretok ' ?[a-z]+|[^a-z]' \
    -o "$work/custom.pyr" > /dev/null || err "build custom: exit $?"
"$exe" vocab export "$work/custom.pyr" --level 1 --format hf -o "$work/x" 2> "$work/e"
[ $? = 2 ] && grep -q "custom PCRE2 pattern" "$work/e" && [ ! -e "$work/x" ] ||
    err "custom pattern: $(cat "$work/e")"
"$exe" vocab export "$work/gpt2.pyr" --level 9 --format hf -o "$work/x" 2> "$work/e"
[ $? = 2 ] && grep -q "levels 0..3" "$work/e" || err "level 9: $(cat "$work/e")"
"$exe" vocab export "$work/gpt2.pyr" --format spm -o "$work/x" 2> "$work/e"
[ $? = 2 ] && grep -q "unknown format 'spm'" "$work/e" || err "format spm: $(cat "$work/e")"

# tiktoken's own ranks, imported and exported as a tokenizer.json: the merges tiktoken makes
# to reach each token encode as tiktoken (and the tiktoken export gives its ranks back); on
# the first 2 MB of the text (all of it in the full run)
encodings=cl100k_base
head -c 2000000 "$t6" > "$work/text2.txt"
tt=$work/text2.txt
[ "$full" = full ] && encodings="cl100k_base o200k_base" tt=$t6
for enc in $encodings; do
    node "$here/../bench/tiktoken_encode.js" --ranks $enc "$work/$enc.tiktoken" ||
        { err "ranks of $enc"; continue; }
    "$exe" vocab import-tiktoken "$work/$enc.tiktoken" -o "$work/$enc.pyr" > /dev/null ||
        err "import $enc: exit $?"
    "$exe" vocab export "$work/$enc.pyr" --level 1 --format tiktoken -o "$work/back" > /dev/null ||
        err "export $enc as tiktoken: exit $?"
    sort -k2,2n "$work/$enc.tiktoken" | cmp -s - "$work/back" || err "$enc ranks do not come back"
    "$exe" vocab export "$work/$enc.pyr" --level 1 --format hf -o "$work/tok.json" > /dev/null ||
        { err "export $enc as hf: exit $?"; continue; }
    node "$here/../bench/tiktoken_encode.js" --ids $enc "$tt" > "$work/want" || err "tiktoken $enc"
    "$exe" vocab encode -p "$work/$enc.pyr" "$tt" | cmp -s - "$work/want" ||
        err "pyramask's import of $enc encodes the text differently from tiktoken"
    node "$here/export_encode.js" hf "$work/tok.json" "$tt" > "$work/hf" || err "tokenizers $enc"
    cmp -s "$work/want" "$work/hf" || err "the tokenizer.json of $enc encodes differently from tiktoken"
done

[ $fail = 0 ] && echo "vocab export: tokenizers and tiktoken give pyramask's ids"
exit $fail
