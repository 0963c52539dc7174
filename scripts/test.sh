#!/usr/bin/env bash
# Runs every test of brook: formatting and lints, the core's native tests (unit, property,
# recovery), and a wasm32 build of the crate so nothing that cannot run there creeps in.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

say() { printf '\n== test: %s\n' "$*"; }

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy (native, all targets)"
cargo clippy --all-targets -- -D warnings

say "cargo build --target wasm32-unknown-unknown (the core must build for wasm)"
cargo build --lib --target wasm32-unknown-unknown
cargo clippy --lib --target wasm32-unknown-unknown -- -D warnings

say "cargo test (native: unit, property, recovery and crash tests)"
cargo test --all-targets
cargo test --doc
