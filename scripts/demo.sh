#!/usr/bin/env bash
# Sets up, builds brook for the browser, and serves the demo page (www/) on 127.0.0.1.
# PORT=8080 by default; the URL is printed once the server listens.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh
printf '\n== demo: serving www/ (open the URL below)\n'
exec node scripts/serve.mjs "${PORT:-8080}"
