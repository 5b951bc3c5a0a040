#!/usr/bin/env bash
# Fails when a tracked C++ file differs from .clang-format's layout (fix: clang-format -i FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
git ls-files '*.cpp' '*.h' | xargs clang-format --dry-run --Werror
echo "format: all C++ files match .clang-format"
