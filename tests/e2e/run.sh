#!/usr/bin/env bash
# Runs the e2e suite (node's test runner) against the real binary: installs the openai SDK from
# package-lock.json on first use. Usage: run.sh [test files...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
if [ ! -d node_modules/openai ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
# Arguments: the test files to run (default: every *.test.mjs; the Vulkan one runs as its own ctest).
if [ $# -gt 0 ]; then
  exec node --test --test-concurrency=1 "$@"
fi
exec node --test --test-concurrency=1 "$here"/*.test.mjs
