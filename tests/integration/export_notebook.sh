#!/bin/sh
# The exported notebook under Jupyter's own tools: nbformat validates it, nbconvert turns it
# into HTML that keeps its figures, and its code cells run as they are, with pandas and
# matplotlib and without them. Skips (77) when python3-nbformat or jupyter-nbconvert is missing.
. "$(dirname "$0")/export_lib.sh"
PY=/usr/bin/python3
JUPYTER=/usr/bin/jupyter
"$PY" -c "import nbformat" 2>/dev/null || { echo "skip: no python3-nbformat" >&2; exit 77; }
"$JUPYTER" nbconvert --version >/dev/null 2>&1 || { echo "skip: no jupyter-nbconvert" >&2; exit 77; }

sweep tiny 'mask.structure = token, span' 'mask.types = single, class'
"$P" export --format ipynb -o report.ipynb || exit 1

# nbformat's schema; every figure well-formed SVG (XML); every table well-formed HTML
out=$("$PY" - report.ipynb <<'EOT' 2>&1
import sys, html.parser, xml.etree.ElementTree as ET
import nbformat
nb = nbformat.read(sys.argv[1], as_version=4)
nbformat.validate(nb)
svgs = tables = 0
for cell in nb.cells:
    for out in cell.get("outputs", []):
        data = out.get("data", {})
        if "image/svg+xml" in data:
            root = ET.fromstring(data["image/svg+xml"])
            assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag
            svgs += 1
        if out.get("output_type") == "execute_result":
            parser = html.parser.HTMLParser()
            parser.feed(data["text/html"])
            assert data["text/html"].count("<tr>") == data["text/plain"].count("\n"), "rows"
            tables += 1
print("ok", svgs, tables)
EOT
)
# five figures and the frontier's, one per quality score of the samples; seven tables
quality=$(sql "SELECT count(DISTINCT metric) FROM scores WHERE split = 'samples' AND metric NOT IN ('sample_nfe', 'sample_length')")
expect "nbformat, SVG and tables" "ok $((5 + quality)) 7" "$out"

# nbconvert: the page keeps the figures (as images: its HTML cleaner strips inline SVG)
"$JUPYTER" nbconvert --to html report.ipynb --output converted >/dev/null 2>&1; rc=$?
expect "nbconvert exit" 0 "$rc"
expect "nbconvert keeps the figures" $((5 + quality)) "$(grep -o 'src="data:image/svg+xml;base64,' converted.html | wc -l | tr -d ' ')"

# the code cells, run in order as a kernel would (the last expression shown, as text and
# HTML); BLOCK=1 hides pandas and matplotlib
cat > run.py <<'EOT'
import ast, os, sys, json
if os.environ.get("BLOCK"):
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("pandas", "matplotlib"):
                raise ImportError("hidden: " + name)
    sys.meta_path.insert(0, Block())
nb = json.load(open(sys.argv[1]))
env = {"__name__": "__main__"}
for cell in nb["cells"]:
    if cell["cell_type"] != "code":
        continue
    tree = ast.parse("".join(cell["source"]))
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, "cell", "exec"), env)
    if last is not None:
        value = eval(compile(ast.Expression(last.value), "cell", "eval"), env)
        text = repr(value)
        rich = getattr(value, "_repr_html_", None)
        if rich is not None:
            assert "<table" in rich()
print("cells ran, pandas and matplotlib", "hidden" if os.environ.get("BLOCK") else "used")
EOT
out=$(BLOCK=1 "$PY" run.py report.ipynb 2>&1)
expect "cells without pandas and matplotlib" "$(printf '%s' "$out" | tail -1)" "cells ran, pandas and matplotlib hidden"
printf '%s\n' "$out" | grep -q "^tok\|final loss" || { echo "FAIL no text fallback printed: $out" >&2; fail=1; }
if "$PY" -c "import pandas, matplotlib" 2>/dev/null; then
    out=$(MPLBACKEND=Agg "$PY" run.py report.ipynb 2>&1)
    expect "cells with pandas and matplotlib" "cells ran, pandas and matplotlib used" "$(printf '%s' "$out" | tail -1)"
fi
exit $fail
