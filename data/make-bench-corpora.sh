#!/bin/sh
# Builds the benchmark corpora in data/bench/ (not committed) from Debian packages,
# deterministically for given package versions:
#   data/bench/prose.txt  ~35 MB: King James Bible, PostgreSQL 15 manual (HTML to text),
#                         Python 3.11 documentation sources, WordNet glosses, Python NEWS
#   data/bench/code.txt   ~40 MB: Python 3.11 standard library, Linux and C library headers,
#                         Go 1.19 standard library (first files in path order up to the size)
# Usage: data/make-bench-corpora.sh [--force] [prose] [code]   (default: both, if missing)
# Needs: scripts/install-deps.sh bench
set -eu
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
out="$here/bench"
mkdir -p "$out"

force=0
want=""
for a in "$@"; do
    case "$a" in
        --force) force=1 ;;
        prose|code) want="$want $a" ;;
        *) echo "pyramask: make-bench-corpora: unknown argument '$a' (prose, code, --force)" >&2; exit 2 ;;
    esac
done
[ -n "$want" ] || want="prose code"

need() { # need FILE PACKAGE
    [ -e "$1" ] || { echo "pyramask: make-bench-corpora: $1 missing: install $2 (scripts/install-deps.sh bench)" >&2; exit 2; }
}

# Prints the files given on stdin, each as a document headed "==> PATH <==", until the
# output reaches LIMIT bytes.
cat_files() { # cat_files LIMIT COMMENT
    total=0
    while IFS= read -r f; do
        [ "$total" -ge "$1" ] && break
        printf '%s ==> %s <==\n' "$2" "${f#/usr/}"
        cat "$f"
        total=$((total + $(wc -c < "$f")))
    done
}

html_to_text() {
    sed -e 's/<[^>]*>//g' -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&quot;/"/g' -e "s/&#39;/'/g" \
        -e 's/&nbsp;/ /g' -e 's/&amp;/\&/g' | cat -s
}

make_prose() {
    need /usr/bin/bible bible-kjv
    need /usr/share/doc/postgresql-doc-15/html/index.html postgresql-doc-15
    need /usr/share/doc/python3.11/html/_sources python3.11-doc
    need /usr/share/wordnet/data.noun wordnet-base
    tmp=$(mktemp "$out/.prose.XXXXXX")
    {
        bible -f Gen1:1-Rev22:21 | awk '
            { split($1, ref, ":"); if (NR > 1 && ref[1] != prev) print ""; prev = ref[1]; print }'
        echo
        for f in $(ls /usr/share/doc/postgresql-doc-15/html/*.html | sort); do
            html_to_text < "$f"
            echo
        done
        find /usr/share/doc/python3.11/html/_sources -name '*.txt' | sort | while IFS= read -r f; do
            cat "$f"
            echo
        done
        for pos in noun verb adj adv; do # the glosses: definitions and examples, one a line
            sed -n 's/^[0-9][^|]*| //p' "/usr/share/wordnet/data.$pos"
        done
        echo
        zcat /usr/share/doc/python3.11/NEWS.gz /usr/share/doc/python3.11/HISTORY.gz
    } > "$tmp"
    chmod 644 "$tmp"
    mv "$tmp" "$out/prose.txt"
}

make_code() {
    need /usr/lib/python3.11/asyncio/tasks.py libpython3.11-stdlib
    need /usr/share/go-1.19/src/go/parser/parser.go golang-1.19-src
    need /usr/include/linux/types.h linux-libc-dev
    tmp=$(mktemp "$out/.code.XXXXXX")
    {
        dpkg -L libpython3.11-minimal libpython3.11-stdlib | grep '\.py$' | sort |
            cat_files 12000000 '#'
        dpkg -L linux-libc-dev libc6-dev | grep '\.h$' | sort | cat_files 8000000 '//'
        find /usr/share/go-1.19/src -name '*.go' -not -path '*/testdata/*' | sort |
            cat_files 20000000 '//'
    } > "$tmp"
    chmod 644 "$tmp"
    mv "$tmp" "$out/code.txt"
}

for w in $want; do
    if [ $force = 0 ] && [ -s "$out/$w.txt" ]; then
        echo "data/bench/$w.txt exists (--force rebuilds it)" >&2
    else
        "make_$w"
    fi
    printf '%s  %s bytes  sha256 %s\n' "data/bench/$w.txt" "$(wc -c < "$out/$w.txt")" \
        "$(sha256sum < "$out/$w.txt" | cut -c1-16)"
done
