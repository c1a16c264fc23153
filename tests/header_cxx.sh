#!/bin/sh
# Checks that a public header serves C++ programs: it compiles as C++, first and alone, and
# its functions keep C linkage (extern "C"), so that a C++ program links against the C
# library. Usage: header_cxx.sh HEADER FUNCTION   (exit 77: no C++ compiler or nm)
set -eu
header=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
fn=$2
cxx=$(command -v "${CXX:-c++}" || command -v g++ || command -v clang++ || true)
nm=$(command -v nm || true)
[ -n "$cxx" ] && [ -n "$nm" ] || { echo "SKIP: no C++ compiler or no nm"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf '#include "%s"\nvoid (*header_cxx_ref())() { return reinterpret_cast<void (*)()>(&%s); }\n' \
    "$header" "$fn" >"$dir/t.cc"
if ! "$cxx" -std=c++11 -Wall -Wextra -Werror -c -o "$dir/t.o" "$dir/t.cc"; then
    echo "FAIL: $header does not compile as C++"
    exit 1
fi
if ! "$nm" -u "$dir/t.o" | grep -Eq "^ *U $fn\$"; then
    echo "FAIL: $fn has C++ linkage in $header (no extern \"C\"): $("$nm" -u "$dir/t.o" | tr -s ' ')"
    exit 1
fi
echo "ok: $(basename "$header") compiles as C++, $fn has C linkage"
