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
