#!/usr/bin/env bash
# Fails when a C++ file (tracked, or new and not ignored) differs from .clang-format's layout (fix: clang-format -i FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
git ls-files --cached --others --exclude-standard '*.cpp' '*.h' | xargs clang-format --dry-run --Werror
echo "format: all C++ files match .clang-format"
