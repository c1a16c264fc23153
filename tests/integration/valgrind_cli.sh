#!/bin/sh
# The command's main paths under valgrind's memcheck: vocab build, encode, decode and stats,
# mask preview, a tiny train, score and sample, sql, db merge and export.
# Any invalid read or write, use of an uninitialised value, or definitely or indirectly lost
# block fails. Skipped (77) without valgrind or on a sanitizer build (which valgrind cannot run).
# Usage: valgrind_cli.sh PYRAMASK DATA_DIR
. "$(dirname "$0")/exp_lib.sh"
command -v valgrind >/dev/null || { echo "valgrind missing: skipped" >&2; exit 77; }
if grep -q __asan_init "$P" 2>/dev/null; then
    echo "a sanitizer build: valgrind skipped" >&2
    exit 77
fi
# OpenBLAS picks its kernels by CPU; valgrind emulates up to AVX2
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
n=0
# vg NAME CMD...: runs CMD under memcheck; its output in NAME.out, the report in NAME.vg
vg() {
    name=$1
    shift
    n=$((n + 1))
    valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
        --errors-for-leak-kinds=definite,indirect --num-callers=30 --log-file="$name.vg" \
        "$@" >"$name.out" 2>"$name.err" <"${stdin:-/dev/null}"
    rc=$?
    if [ $rc -ne 0 ] || [ -s "$name.vg" ]; then
        echo "FAIL $name: exit status $rc under valgrind" >&2
        cat "$name.err" "$name.vg" >&2
        fail=1
    fi
}

head -c 100000 "$DATA/prose/kjv.txt" > small.txt
vg build "$P" vocab build --corpus small.txt --levels 300,400 --superword 450 -o small.pyr
printf 'In the beginning God created the heaven and the earth.\n' > line.txt
stdin=line.txt vg encode "$P" vocab encode -p small.pyr --level 2 -
stdin=encode.out vg decode "$P" vocab decode -p small.pyr --level 2 -
expect "decode(encode(x))" "$(cat line.txt)" "$(cat decode.out)"
vg stats "$P" vocab stats -p small.pyr --corpus small.txt
vg preview "$P" mask preview -c tiny.ini --set tokenizer.pyramid=small.pyr \
    --set tokenizer.levels=300,400 --set tokenizer.superword=450 --set mask.structure=unit \
    --set mask.unit_level=2 --set mask.types=class line.txt
vg train "$P" train -c tiny.ini --set data.max_bytes=60000 --set train.steps=3 \
    --set model.d=16 --set score.max_tokens=256
ckpt=$(sql "SELECT path FROM artifacts WHERE kind = 'checkpoint'")
vg score "$P" score -c tiny.ini --set data.max_bytes=60000 --set model.d=16 \
    --set score.max_tokens=256 --set mask.schedule=cosine --checkpoint "$ckpt"
vg sample "$P" sample --checkpoint "$ckpt" --steps 4
vg sql "$P" sql "SELECT run_id, status, nelbo_bpb FROM v_final"
vg merge "$P" db merge merged.db "$PYRAMASK_DB"
vg export-html "$P" export --format html -o report.html
vg export-ipynb "$P" export --format ipynb -o report.ipynb
expect "runs logged under valgrind" "2|2" "$(sql "SELECT count(*), sum(status = 'finished') FROM runs" | tr , '|')"
echo "valgrind: $n commands, $( [ $fail -eq 0 ] && echo 'no error, no leak' || echo 'errors')" >&2
exit $fail
