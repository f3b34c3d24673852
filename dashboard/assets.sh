#!/usr/bin/env bash
# Refreshes the dashboard's vendored front-end libraries from the npm
# registry into dashboard/static/vendor/, where go:embed picks them up. The
# built files are committed, so neither a build nor the running server needs
# npm or a CDN; run this (make assets) only to change a version.
#
# Versions are pinned here, not floating, so a refresh is a reviewed diff.
set -euo pipefail
cd "$(dirname "$0")"

HTMX_VERSION=2.0.11     # htmx.org: partial page updates (polling, lazy rows)
CHARTJS_VERSION=4.6.1   # chart.js: quadrant scatter and the score chart

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# npm pack fetches the published tarball only (no install scripts run).
fetch() { # fetch PKG VERSION
  (cd "$work" && npm pack --silent "$1@$2" >/dev/null)
  mkdir -p "$work/$1"
  tar -xzf "$work/$1-$2.tgz" -C "$work/$1"
}
fetch htmx.org "$HTMX_VERSION"
fetch chart.js "$CHARTJS_VERSION"

out=static/vendor
rm -rf "$out"
mkdir -p "$out"
cp "$work/htmx.org/package/dist/htmx.min.js" "$out/htmx.min.js"
cp "$work/htmx.org/package/LICENSE" "$out/htmx.LICENSE"
cp "$work/chart.js/package/dist/chart.umd.min.js" "$out/chart.umd.min.js"
cp "$work/chart.js/package/LICENSE.md" "$out/chart.js.LICENSE.md"
cat > "$out/VERSIONS" <<VERSIONS
htmx.org $HTMX_VERSION
chart.js $CHARTJS_VERSION
VERSIONS
ls -l "$out"
