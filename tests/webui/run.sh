#!/usr/bin/env bash
# Runs one part of the web UI's tests: `unit` (type check, Vitest), `dist` (committed bundle is fresh) or
# `e2e` (headless Chromium against the real tandem serve). Installs webui's npm packages from
# package-lock.json on first use, under a lock so parallel ctest runs install once.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
webui="$here/../../webui"
part="${1:?usage: run.sh unit|dist|e2e}"

(
  flock 9
  if [ ! -f "$webui/node_modules/.package-lock.json" ] || [ "$webui/package-lock.json" -nt "$webui/node_modules/.package-lock.json" ]; then
    (cd "$webui" && npm ci --no-audit --no-fund --loglevel=error)
  fi
) 9>"$webui/.npm-install.lock"

case "$part" in
  unit) cd "$webui" && npx tsc --noEmit -p . && exec npx vitest run ;;
  dist) exec node "$here/check_dist.mjs" ;;
  e2e)
    if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
      echo "chromium not found at ${CHROMIUM:-/usr/bin/chromium}: apt-get install -y chromium (scripts/install-deps.sh)" >&2
      exit 1
    fi
    exec node --test --test-concurrency=1 "$here"/e2e/*.test.mjs ;;
  *) echo "unknown part: $part" >&2; exit 2 ;;
esac
