#!/usr/bin/env bash
# Runs the e2e suite (node's test runner) against the real binary: installs the openai SDK from
# package-lock.json on first use.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
if [ ! -d node_modules/openai ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
exec node --test --test-concurrency=1 "$here"/*.test.mjs
