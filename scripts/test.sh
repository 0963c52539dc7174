#!/usr/bin/env bash
# Runs every test of brook: formatting and lints, the core's native tests (unit, property,
# recovery), the wasm bindings' tests in Node and in Chromium, Firefox and WebKit, the JS API's
# tests in Node, the IndexedDB and demo page tests in the three engines, and the packed npm
# tarball installed into fresh apps (Node, a plain browser page, a Vite build).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

say() { printf '\n== test: %s\n' "$*"; }

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy (native and wasm32; the browser build without the files feature too)"
cargo clippy --all-targets -- -D warnings
cargo clippy --lib --target wasm32-unknown-unknown -- -D warnings
cargo clippy --lib --target wasm32-unknown-unknown --no-default-features -- -D warnings

say "cargo test (native: unit, property, recovery and crash tests)"
cargo test --all-targets
cargo test --doc

say "cargo test --target wasm32-unknown-unknown (the bindings' own tests, in Node)"
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  cargo test --target wasm32-unknown-unknown --test wasm_bindings

# The IndexedDB backend's own tests in each engine: wasm-bindgen-test-runner drives Chromium
# through ChromeDriver, Firefox through geckodriver, and WebKitGTK through WebKitWebDriver
# (under Xvfb: MiniBrowser has no headless mode).
# wasm-bindgen-test-runner gives the driver a fixed moment to bind its port; on a loaded
# machine ChromeDriver has missed it ("driver failed to bind port during startup"). That,
# and only that, is tried once more: a test that fails fails the run.
wasm_browser_test() {
  local output
  output=$(mktemp)
  if "$@" WASM_BINDGEN_TEST_TIMEOUT=60 CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
    cargo test --target wasm32-unknown-unknown --test wasm_indexed_db 2>&1 | tee "$output"; then
    rm -f "$output"
    return 0
  fi
  if grep -q "driver failed to bind port during startup" "$output"; then
    rm -f "$output"
    echo "the WebDriver did not start in time; trying once more"
    "$@" WASM_BINDGEN_TEST_TIMEOUT=60 CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
      cargo test --target wasm32-unknown-unknown --test wasm_indexed_db
    return
  fi
  rm -f "$output"
  return 1
}
say "cargo test --target wasm32-unknown-unknown (the IndexedDB backend, in headless Chromium)"
wasm_browser_test env CHROMEDRIVER=/usr/bin/chromedriver
say "cargo test --target wasm32-unknown-unknown (the IndexedDB backend, in headless Firefox)"
wasm_browser_test env GECKODRIVER="$(command -v geckodriver)"
say "cargo test --target wasm32-unknown-unknown (the IndexedDB backend, in WebKitGTK under Xvfb)"
wasm_browser_test xvfb-run -a env SAFARIDRIVER=/usr/bin/WebKitWebDriver

say "build the npm package's wasm (release) into pkg/"
./scripts/build.sh

say "size ratchet of the shipped .wasm (scripts/size-limits.json)"
node scripts/size-check.mjs

say "tsc --noEmit (index.d.ts and kafkajs.d.ts against programs that use their APIs)"
npx tsc --noEmit --strict --target es2022 --module nodenext --lib es2022,dom index.d.ts kafkajs.d.ts bridge.d.ts relay.d.ts tests/js/types-check.ts tests/js/types-check-kafkajs.ts

say "html-validate (the demo page's and the test page's markup; .htmlvalidate.json)"
npx html-validate www/index.html tests/browser/page.html

say "node --test tests/js (the JS API through node:test)"
node --test --test-reporter=spec tests/js/

say "node --test tests/browser (IndexedDB: reload, crash, two tabs, quota, shared tabs; Chromium, Firefox, WebKit)"
node --test --test-reporter=spec tests/browser/

say "node --test tests/demo (the demo page's flows in Chromium, Firefox and WebKit)"
node --test --test-reporter=spec tests/demo/

say "node --test tests/pack (npm pack, installed into a Node app, a browser page and a Vite build, in each engine)"
node --test --test-reporter=spec tests/pack/
