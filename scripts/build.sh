#!/usr/bin/env bash
# Builds the npm package's generated part: the release wasm and its wasm-bindgen glue in pkg/.
# Expects the tools of scripts/setup.sh. Prints the sizes (raw and gzipped) it produced.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== build: %s\n' "$*"; }

say "cargo build --release --target wasm32-unknown-unknown"
cargo build --release --lib --target wasm32-unknown-unknown

say "wasm-bindgen --target web -> pkg/"
rm -rf pkg
wasm-bindgen --target web --out-dir pkg --out-name brook_core \
  target/wasm32-unknown-unknown/release/brook.wasm

# The package always ships the optimized build: without binaryen (a dev dependency), fail
# rather than pack a .wasm half again as large.
if [ ! -x node_modules/.bin/wasm-opt ]; then
  echo "build: node_modules/.bin/wasm-opt is missing; run 'npm ci' first (binaryen is a dev dependency)" >&2
  exit 1
fi
say "wasm-opt -Oz (binaryen from npm)"
node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
  pkg/brook_core_bg.wasm -o pkg/brook_core_bg.wasm
rm -f pkg/.gitignore pkg/package.json

raw=$(wc -c < pkg/brook_core_bg.wasm)
gz=$(gzip -9 -c pkg/brook_core_bg.wasm | wc -c)
say "pkg/brook_core_bg.wasm: $raw bytes, $gz gzipped"
