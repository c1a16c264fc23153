#!/bin/sh
# Rebuilds the two shipped corpora in data/ from Debian packages, deterministically:
#   data/prose/kjv.txt            King James Bible (bible-kjv-text), one chapter per document
#   data/code/python-stdlib.txt   Python 3.11 standard library sources (libpython3.11-stdlib)
# Documents are separated by one blank line (prose) or start at a "# ==> NAME <==" line (code).
set -eu
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)

command -v bible >/dev/null || { echo "pyramask: make-shipped: needs the bible-kjv package" >&2; exit 2; }
tmp=$(mktemp "$here/prose/.kjv.XXXXXX")
# "Ge1:1 In the beginning ..." one verse a line; a blank line between chapters.
bible -f Gen1:1-Rev22:21 | awk '
    { split($1, ref, ":"); if (NR > 1 && ref[1] != prev) print ""; prev = ref[1]; print }
' > "$tmp"
chmod 644 "$tmp"; mv "$tmp" "$here/prose/kjv.txt"

src=/usr/lib/python3.11
[ -f "$src/LICENSE.txt" ] || { echo "pyramask: make-shipped: needs libpython3.11-stdlib" >&2; exit 2; }
tmp=$(mktemp "$here/code/.py.XXXXXX")
limit=3000000
for f in $(cd "$src" && ls *.py | sort); do
    size=$(wc -c < "$tmp")
    [ "$size" -ge "$limit" ] && break
    printf '# ==> %s <==\n' "$f" >> "$tmp"
    cat "$src/$f" >> "$tmp"
done
chmod 644 "$tmp"; mv "$tmp" "$here/code/python-stdlib.txt"
cp "$src/LICENSE.txt" "$here/code/LICENSE-PSF.txt"
