#!/usr/bin/env bash
# Builds the npm package's generated part, two wasm builds with their wasm-bindgen glue:
#   pkg/       for browsers (js/browser.js): without the "files" feature — no file store, which
#              a page never uses and would download (43 KiB of the .wasm)
#   pkg/node/  for Node (js/node.js): every feature
# Expects the tools of scripts/setup.sh. Prints the sizes (raw and gzipped) it produced.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== build: %s\n' "$*"; }

# The package always ships the optimized build: without binaryen (a dev dependency), fail
# rather than pack a .wasm half again as large.
if [ ! -x node_modules/.bin/wasm-opt ]; then
  echo "build: node_modules/.bin/wasm-opt is missing; run 'npm ci' first (binaryen is a dev dependency)" >&2
  exit 1
fi

rm -rf pkg
# build <out dir> <cargo feature arguments...>
build() {
  local out=$1
  shift
  say "cargo build --release --target wasm32-unknown-unknown $* -> $out/"
  cargo build --release --lib --target wasm32-unknown-unknown "$@"
  wasm-bindgen --target web --out-dir "$out" --out-name brook_core \
    target/wasm32-unknown-unknown/release/brook.wasm
  say "wasm-opt -Oz (binaryen from npm) $out/brook_core_bg.wasm"
  node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$out/brook_core_bg.wasm" -o "$out/brook_core_bg.wasm"
  rm -f "$out/.gitignore" "$out/package.json"
  local raw gz
  raw=$(wc -c < "$out/brook_core_bg.wasm")
  gz=$(gzip -9 -c "$out/brook_core_bg.wasm" | wc -c)
  say "$out/brook_core_bg.wasm: $raw bytes, $gz gzipped"
}
build pkg --no-default-features
build pkg/node
