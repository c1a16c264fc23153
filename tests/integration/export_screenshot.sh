#!/bin/sh
# A 20-run sweep's page in headless Chromium: the DOM holds every figure and the screenshot
# of the page's whole height is a real picture. EXPORT_SCREENSHOTS=DIR keeps the PNG there
# to look at. Skips (77) without chromium (Debian package chromium).
. "$(dirname "$0")/export_lib.sh"
CHROMIUM=$(command -v chromium || command -v chromium-browser) ||
    { echo "skip: no chromium" >&2; exit 77; }

# chrome ARGS...: one headless run with a fresh profile and nothing from the network
chrome() {
    profile=$(mktemp -d "$T/profile-XXXXXX")
    "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$profile" "$@" 2>/dev/null
    rm -rf "$profile"
}

sweep twenty 'mask.schedule = linear, cosine, cosine-md4, poly, loglinear' \
    'mask.structure = token, span'
"$P" export -o twenty.html || exit 1
chrome --dump-dom "file://$T/twenty.html" > dom.html
expect "figures in the DOM" 5 "$(grep -c '<svg ' dom.html)"
expect "legend entries: ten configurations, five schedules" 15 \
    "$(grep -o 'stroke-width="2.5"' dom.html | wc -l | tr -d ' ')"
chrome --hide-scrollbars --window-size=1200,7200 --screenshot="$T/twenty.png" "file://$T/twenty.html"
expect "a PNG" "89504e47" "$(od -An -tx1 -N4 twenty.png | tr -d ' \n')"
size=$(wc -c < twenty.png | tr -d ' ')
[ "$size" -gt 200000 ] || { echo "FAIL the screenshot is $size bytes: blank?" >&2; fail=1; }
[ -n "${EXPORT_SCREENSHOTS:-}" ] && cp twenty.png twenty.html "$EXPORT_SCREENSHOTS/"
exit $fail
