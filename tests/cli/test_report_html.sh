#!/usr/bin/env bash
# `drctl report`: the screenshot test. A fixture run record is copied into a
# temporary store; drctl writes its HTML report (and the JSON and Markdown
# ones); headless Chromium renders the page from file:// with every host name
# unresolvable, and the PNG is decoded (zlib and struct only) to prove the
# timeline is drawn: pixels of the succeeded and failed bar colours inside
# the plot, at least one bar per step that ran (any status colour), a page
# that is not blank.
# Also: the command line (unknown run -> 11 with the newest runs, latest,
# --history in time order, usage errors).
#
# Chromium is Debian's (scripts/setup.sh installs it). Without it this test
# FAILS, it does not skip. The screenshots stay in the test's temporary
# directory, which is removed at the end unless DRCTL_KEEP_SHOTS=DIR is set:
# then they are copied to DIR. The path of each PNG is printed.
. "$(dirname "$0")/../lib.sh"
mkdir -p "$T_TMP/home"
FIX="$DRCTL_SOURCE_DIR/tests/unit/fixtures/runs"
STORE="$T_TMP/store"
RUNS="$STORE/runs"
mkdir -p "$RUNS"

OK_ID=failover-20261118T110640Z-ab12
FAILED_ID=failover-20261119T090000Z-cd34
RESUMED_ID=failover-20261120T093640Z-gh78
NORPO_ID=drill-20261122T060000Z-kl12
# The bar fills of report_html.c (succeeded, failed; then continued,
# rolled-back, skipped, running) and the plot background.
GREEN="47,158,68"
RED="224,49,49"
OTHER_BARS="240,140,0;156,54,181;173,181,189;28,126,214"
PLOT_BG="243,245,251"

cp -r "$FIX/$FAILED_ID" "$FIX/$OK_ID" "$RUNS/"

# ---- the command line --------------------------------------------------

run clean_env "$DRCTL_BIN" report --help
expect_rc 0 "report --help"
expect_out_has "usage: drctl report RUN" "help shows the usage"
expect_out_has "--history" "help explains --history"

run clean_env "$DRCTL_BIN" report --store "$STORE"
expect_rc 2 "report without a run"
expect_err_has "needs a run" "missing run is explained"

run clean_env "$DRCTL_BIN" report "$OK_ID" --format pdf --store "$STORE"
expect_rc 2 "unknown format"
expect_err_has "unknown --format 'pdf'" "bad format is named"

run clean_env "$DRCTL_BIN" report "$OK_ID" --runbook failover --store "$STORE"
expect_rc 2 "--runbook without --history"

run clean_env "$DRCTL_BIN" report nope-run --store "$STORE"
expect_rc 11 "unknown run"
expect_err_has "no run 'nope-run'" "unknown run is named"
expect_err_has "the newest runs: $FAILED_ID, $OK_ID" "newest runs listed, newest first"

run clean_env "$DRCTL_BIN" report latest --store "$T_TMP/empty-store"
expect_rc 11 "latest of an empty store"
expect_err_has "no run records" "empty store is explained"

run clean_env "$DRCTL_BIN" report "$OK_ID" --store "$STORE"
expect_rc 0 "text report"
expect_out_has "failover run $OK_ID: succeeded (target us-west-2)" "text: title line"
expect_out_has "RTO 2m00s of 30m00s: met" "text: RTO against the target"
expect_out_has "RPO 7m36s of 1h00m00s: met" "text: RPO against the target"

run clean_env env DRCTL_STORE="$STORE" "$DRCTL_BIN" report latest
expect_rc 0 "latest through DRCTL_STORE"
expect_out_has "failover run $FAILED_ID: failed" "latest is the newest run"

run clean_env "$DRCTL_BIN" --output json report "$RUNS/$OK_ID" --store "$T_TMP/elsewhere"
expect_rc 0 "a run directory as path, --output json"
if printf '%s' "$T_OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["report"]["rto_window_s"] > 0' 2>/dev/null; then
    pass "json report parses, with the computed window"
else
    fail "json report parses, with the computed window"
fi

run clean_env "$DRCTL_BIN" report "$FAILED_ID" --format md --store "$STORE" --out "$T_TMP/r.md"
expect_rc 0 "md report to a file"
rows=$(grep -cE '^\| [0-9]+ \|' "$T_TMP/r.md" || true)
if [ "$rows" -eq 7 ]; then pass "md: one row per step"; else fail "md: $rows rows, expected 7"; fi
if grep -q '<script' "$T_TMP/r.md"; then fail "md: raw <script>"; else pass "md: user strings escaped"; fi
mode=$(stat -c %a "$T_TMP/r.md")
if [ "$mode" = 644 ]; then pass "--out file is mode 0644"; else fail "--out file mode $mode"; fi

cp -r "$FIX/$NORPO_ID" "$FIX/$RESUMED_ID" "$RUNS/"
run clean_env "$DRCTL_BIN" report --history --store "$STORE"
expect_rc 0 "history"
order=$(printf '%s\n' "$T_OUT" | grep -oE '(failover|drill)-2026[0-9TZ]+-[a-z0-9]+' | tr '\n' ' ')
if [ "$order" = "$OK_ID $FAILED_ID $RESUMED_ID $NORPO_ID " ]; then
    pass "history oldest first"
else
    fail "history order: $order"
fi
expect_out_has "4 runs: 3 met their objectives, 1 did not" "history summary"

run clean_env "$DRCTL_BIN" report --history --runbook drill --format md --store "$STORE"
expect_rc 0 "history of one runbook"
expect_out_has "$NORPO_ID" "the drill is listed"
expect_not_has "$OK_ID" "failovers are not"

run clean_env "$DRCTL_BIN" report --history --format html --store "$STORE" --out "$T_TMP/history.html"
expect_rc 0 "history as html"
if python3 -c 'import sys,xml.dom.minidom as m; d=m.parse(sys.argv[1]); assert d.getElementsByTagName("svg")' "$T_TMP/history.html" 2>/dev/null; then
    pass "history html is well-formed, with a trend <svg>"
else
    fail "history html is well-formed, with a trend <svg>"
fi

# ---- the HTML report -----------------------------------------------------

HTML="$T_TMP/report.html"
run clean_env "$DRCTL_BIN" report "$FAILED_ID" --format html --store "$STORE" --out "$HTML"
expect_rc 0 "html report to a file"
run clean_env "$DRCTL_BIN" report "$FAILED_ID" --format json --store "$STORE" --out "$T_TMP/report.json"
expect_rc 0 "json report to a file"

# Nothing external: the only URI is the SVG namespace name.
others=$(grep -oE '(https?|ftp|file|data):[^"'"'"' <>)]*' "$HTML" | grep -vx 'http://www.w3.org/2000/svg' || true)
if [ -z "$others" ]; then pass "no external reference"; else fail "external references: $others"; fi
if grep -qiE '<(script|link|img|iframe|object|embed)|@import|url\(|src=|href=' "$HTML"; then
    fail "the page loads something"
else
    pass "no script, link, image, import or url()"
fi
if grep -q '<script' "$HTML"; then fail "raw <script> from the step error"; else pass "step error escaped"; fi

# ---- the screenshot ------------------------------------------------------

CHROME=""
for c in chromium chromium-browser; do
    if command -v "$c" >/dev/null 2>&1; then CHROME=$(command -v "$c"); break; fi
done
if ! grep -qE '^PKGS=.*\bchromium\b|^  .*\bchromium\b' "$DRCTL_SOURCE_DIR/scripts/setup.sh"; then
    T_OUT="" T_ERR="" T_RC=1 fail "scripts/setup.sh does not install chromium"
fi
if [ -z "$CHROME" ]; then
    T_OUT="" T_ERR="chromium not found on PATH (chromium, chromium-browser)" T_RC=1
    fail "headless Chromium is required for the screenshot test: run scripts/setup.sh (it installs Debian's chromium)"
    finish
    exit 1
fi

# shot NAME EXTRA-FLAGS...: renders $HTML to $T_TMP/NAME.png.
shot() {
    local name=$1
    shift
    set +e
    HOME="$T_TMP/home" timeout 120 "$CHROME" --headless=new --no-sandbox --disable-gpu \
        --hide-scrollbars --force-device-scale-factor=1 --window-size=1200,900 \
        --no-first-run --disable-extensions --disable-background-networking \
        --run-all-compositor-stages-before-draw --virtual-time-budget=5000 \
        --user-data-dir="$T_TMP/chrome-$name" "$@" \
        --screenshot="$T_TMP/$name.png" "file://$HTML" >"$T_TMP/chrome-$name.log" 2>&1
    T_RC=$?
    set -e 2>/dev/null || true
    set +e
    T_OUT=""
    T_ERR=$(tail -5 "$T_TMP/chrome-$name.log")
}

# check_png FILE STEPS: the timeline is in the picture.
check_png() {
    python3 - "$1" "$2" "$GREEN" "$RED" "$PLOT_BG" "$OTHER_BARS" <<'EOF'
import struct, sys, zlib

path, nsteps = sys.argv[1], int(sys.argv[2])
green, red, plot_bg = (tuple(int(v) for v in a.split(",")) for a in sys.argv[3:6])
others = [tuple(int(v) for v in c.split(",")) for c in sys.argv[6].split(";")]

data = open(path, "rb").read()
if data[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit("not a PNG")
pos, idat, hdr = 8, [], None
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        hdr = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat.append(body)
    elif kind == b"IEND":
        break
    pos += 12 + n
w, h, depth, ctype, _, _, interlace = hdr
if depth != 8 or ctype not in (2, 6) or interlace:
    sys.exit("unsupported PNG: depth %d, colour type %d, interlace %d" % (depth, ctype, interlace))
bpp = 3 if ctype == 2 else 4
raw = zlib.decompress(b"".join(idat))
stride = w * bpp
rows, prev, i = [], bytearray(stride), 0
for y in range(h):
    f = raw[i]
    line = bytearray(raw[i + 1:i + 1 + stride])
    i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b = prev[x]
        c = prev[x - bpp] if x >= bpp else 0
        if f == 1:
            line[x] = (line[x] + a) & 255
        elif f == 2:
            line[x] = (line[x] + b) & 255
        elif f == 3:
            line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(bytes(line))
    prev = line

def px(x, y):
    o = x * bpp
    r = rows[y]
    return (r[o], r[o + 1], r[o + 2])

# Not blank: a fair share of non-white pixels, many colours.
nonwhite, colours = 0, set()
for y in range(0, h, 3):
    for x in range(0, w, 3):
        p = px(x, y)
        colours.add(p)
        nonwhite += p != (255, 255, 255)
if nonwhite < (w // 3) * (h // 3) // 50 or len(colours) < 20:
    sys.exit("the page looks blank: %d non-white samples, %d colours" % (nonwhite, len(colours)))

# The plot: the bounding box of its background colour.
xs, ys = [], []
for y in range(h):
    r = rows[y]
    for x in range(0, w, 2):
        if px(x, y) == plot_bg:
            xs.append(x)
            ys.append(y)
if not xs:
    sys.exit("no plot background (%s) in the picture" % (plot_bg,))
x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
if x1 - x0 < 300 or y1 - y0 < 60:
    sys.exit("the plot is too small: %dx%d" % (x1 - x0, y1 - y0))

# Bars: horizontal runs of a bar colour; a bar is a block of rows with the
# same run (same colour, same start and end).
bar_colours = {green, red, *others}
runs = {}
seen = {c: 0 for c in bar_colours}
for y in range(y0, y1 + 1):
    x = x0
    while x <= x1:
        p = px(x, y)
        if p in bar_colours:
            s = x
            while x <= x1 and px(x, y) == p:
                x += 1
            seen[p] += x - s
            runs.setdefault((p, s, x), []).append(y)
        else:
            x += 1
bars = 0
for key, ylist in runs.items():
    start = 0
    for k in range(1, len(ylist) + 1):
        if k == len(ylist) or ylist[k] != ylist[k - 1] + 1:
            bars += k - start >= 6  # a bar is 16 px high; glyphs are not
            start = k
if seen[green] == 0:
    sys.exit("no succeeded-bar pixels %s in the plot" % (green,))
if seen[red] == 0:
    sys.exit("no failed-bar pixels %s in the plot" % (red,))
if bars < nsteps:
    sys.exit("%d bars of the step colours in the plot, expected >= %d" % (bars, nsteps))
print("plot %d,%d-%d,%d; %d green px, %d red px, %d bars" % (x0, y0, x1, y1, seen[green], seen[red], bars))
EOF
}

# Steps of the fixture that ran (each has a bar).
NBARS=$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(sum(1 for s in r["steps"] if s["started_at"] is not None))
' "$RUNS/$FAILED_ID/run.json")

for variant in plain offline; do
    if [ "$variant" = offline ]; then
        shot "$variant" '--host-resolver-rules=MAP * ~NOTFOUND' --proxy-server=127.0.0.1:9
    else
        shot "$variant"
    fi
    if [ "$T_RC" -eq 0 ] && [ -s "$T_TMP/$variant.png" ]; then
        pass "chromium renders the report ($variant)"
    else
        fail "chromium renders the report ($variant)"
        continue
    fi
    echo "# screenshot: $T_TMP/$variant.png (removed at the end; DRCTL_KEEP_SHOTS=DIR keeps a copy)"
    if res=$(check_png "$T_TMP/$variant.png" "$NBARS" 2>&1); then
        pass "timeline visible in the screenshot ($variant): $res"
    else
        T_OUT="" T_ERR="$res" T_RC=1
        fail "timeline visible in the screenshot ($variant)"
    fi
done

if [ -s "$T_TMP/plain.png" ] && [ -s "$T_TMP/offline.png" ]; then
    if cmp -s "$T_TMP/plain.png" "$T_TMP/offline.png"; then
        echo "# the render with every host unresolvable is pixel-identical to the plain one"
    else
        echo "# the two renders differ in pixels (both passed the checks above)"
    fi
fi

if [ -n "${DRCTL_KEEP_SHOTS:-}" ]; then
    mkdir -p "$DRCTL_KEEP_SHOTS"
    cp "$T_TMP"/*.png "$HTML" "$DRCTL_KEEP_SHOTS/" && echo "# kept in $DRCTL_KEEP_SHOTS"
fi

finish
