#!/usr/bin/env bash
# Runs the e2e suite (node's test runner) against the real binary: installs the openai SDK from
# package-lock.json on first use (once, under a lock). Usage: run.sh [test files...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
# Under a lock: e2e_openai and e2e_vulkan start together under ctest -j2, and a second `npm ci`
# deletes node_modules under the first one's feet.
(
  flock 9
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
  fi
) 9>"$here/.npm-install.lock"
# Arguments: the test files to run (default: every *.test.mjs; the Vulkan one runs as its own ctest).
if [ $# -gt 0 ]; then
  exec node --test --test-concurrency=1 "$@"
fi
exec node --test --test-concurrency=1 "$here"/*.test.mjs
