#!/usr/bin/env bash
# Refreshes the vendored uPlot chart library in dashboards/vendor/uplot/ from its npm package.
# Usage: scripts/vendor-uplot.sh [version]   (default: the version pinned below)
# Needs npm (it only downloads the package tarball; nothing is installed).
set -euo pipefail

VERSION="${1:-1.6.32}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$ROOT/dashboards/vendor/uplot"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

cd "$TMP"
npm pack --silent "uplot@$VERSION" >/dev/null
tar -xzf uplot-"$VERSION".tgz

mkdir -p "$DEST"
cp package/dist/uPlot.esm.js "$DEST/uPlot.esm.js"
cp package/dist/uPlot.min.css "$DEST/uPlot.min.css"
cp package/LICENSE "$DEST/LICENSE"
echo "$VERSION" > "$DEST/VERSION"
echo "uPlot $VERSION vendored into ${DEST#"$ROOT"/}"
