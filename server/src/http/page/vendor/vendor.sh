#!/usr/bin/env bash
# Re-vendors TradingView's lightweight-charts (Apache-2.0) at the pinned version from the npm
# registry, and checks what is checked in against it:
#   server/src/http/page/vendor/vendor.sh          rewrite the vendored files
#   server/src/http/page/vendor/vendor.sh --check  exit 1 if they differ from the package
set -euo pipefail
VERSION=4.2.2
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "lightweight-charts@$VERSION" >/dev/null && tar xzf "lightweight-charts-$VERSION.tgz")
src="$tmp/package"
if [ "${1:-}" = --check ]; then
    cmp "$src/dist/lightweight-charts.standalone.production.js" "$here/lightweight-charts.standalone.production.js"
    cmp "$src/LICENSE" "$here/LICENSE-lightweight-charts"
    echo "lightweight-charts $VERSION: vendored files match the package"
else
    cp "$src/dist/lightweight-charts.standalone.production.js" "$here/"
    cp "$src/LICENSE" "$here/LICENSE-lightweight-charts"
    echo "vendored lightweight-charts $VERSION"
fi
