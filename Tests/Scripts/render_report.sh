#!/usr/bin/env bash
# Renders a report in headless Chromium to PNG, for looking at it.
#
#   Tests/Scripts/render_report.sh [RUN] [RESULTS] [UNITS]
#
# Without an existing run database at RESULTS/RUN, a synthetic run of UNITS units (default 60) is
# generated first (`autointerp-dev fixtures report`). Writes RESULTS/RUN/report.html and
# RESULTS/RUN/report.png (top of the page: overview, rubric, cost) and report-units.png (the unit
# index with the first card open). Needs Debian's `chromium` (apt-get install -y chromium) and a
# built `autointerp` and `autointerp-dev` (AUTOINTERP=path/to/autointerp overrides .build/debug/autointerp;
# AUTOINTERP_DEV likewise for .build/debug/autointerp-dev).
set -euo pipefail

run="${1:-render-demo}"
results="${2:-/tmp/autointerp-render}"
units="${3:-60}"
here="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${AUTOINTERP:-$here/.build/debug/autointerp}"
dev="${AUTOINTERP_DEV:-$here/.build/debug/autointerp-dev}"
[ -x "$bin" ] || { echo "render_report.sh: no executable at $bin (run swift build first)" >&2; exit 1; }
browser="$(command -v chromium || command -v chromium-browser || true)"
[ -n "$browser" ] || { echo "render_report.sh: chromium not found (apt-get install -y chromium)" >&2; exit 1; }

if [ ! -f "$results/$run/autointerp.sqlite" ]; then
  [ -x "$dev" ] || { echo "render_report.sh: no executable at $dev (run swift build first)" >&2; exit 1; }
  "$dev" fixtures report --run "$run" --results "$results" --units "$units"
fi
"$bin" report --run "$run" --results "$results"

html="$results/$run/report.html"
shoot() { # out.png height [fragment]
  "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --run-all-compositor-stages-before-draw \
    --virtual-time-budget=3000 --window-size="1400,$2" --screenshot="$1" "file://$html${3:-}" 2>/dev/null
}
shoot "$results/$run/report.png" 2400
# The units section alone: a copy of the page with the overview sections hidden.
sed 's|</head>|<style>#overview, #rubric, #cost { display: none; }</style></head>|' "$html" > "$results/$run/report-units.html"
html="$results/$run/report-units.html"
shoot "$results/$run/report-units.png" 1600
echo "wrote $results/$run/report.png and report-units.png"
