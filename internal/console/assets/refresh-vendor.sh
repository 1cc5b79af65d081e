#!/bin/sh
# Refreshes the console's vendored browser libraries from npm at pinned
# versions. Nothing is built: the files are copied as published and embedded
# by internal/console. To upgrade, change a version here, run this script from
# anywhere, and commit the result.
#   internal/console/assets/refresh-vendor.sh
set -eu
HTMX=2.0.11         # htmx.org: page updates without hand-written JavaScript
HTMX_SSE=2.2.4      # htmx-ext-sse: server-sent events for live progress
UPLOT=1.6.32        # uplot: the home page's growth chart

out=$(cd "$(dirname "$0")" && pwd)/vendor
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
for pkg in htmx.org@$HTMX htmx-ext-sse@$HTMX_SSE uplot@$UPLOT; do
	npm pack --silent "$pkg" >/dev/null
done
mkdir -p htmx sse uplot "$out"
tar -xzf htmx.org-$HTMX.tgz -C htmx
tar -xzf htmx-ext-sse-$HTMX_SSE.tgz -C sse
tar -xzf uplot-$UPLOT.tgz -C uplot
cp htmx/package/dist/htmx.min.js "$out/htmx.min.js"
cp htmx/package/LICENSE "$out/htmx.LICENSE"
cp sse/package/dist/sse.min.js "$out/htmx-sse.min.js"
cp uplot/package/dist/uPlot.iife.min.js "$out/uPlot.iife.min.js"
cp uplot/package/dist/uPlot.min.css "$out/uPlot.min.css"
cp uplot/package/LICENSE "$out/uPlot.LICENSE"
printf 'htmx.org %s\nhtmx-ext-sse %s\nuplot %s\n' "$HTMX" "$HTMX_SSE" "$UPLOT" >"$out/VERSIONS"
