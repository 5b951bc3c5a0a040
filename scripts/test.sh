#!/usr/bin/env bash
# One command that installs what is missing, builds, and runs every test (ctest prints the summary).
# Also builds the parser-facing unit tests under ASan+UBSan and runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
status=0
(cd build && ctest --output-on-failure -j2 --timeout 900) || status=$?

echo "== sanitizer build (address,undefined): unit tests =="
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTANDEM_WERROR=ON \
      -DTANDEM_SANITIZE=address,undefined >/dev/null
cmake --build build-asan -j"$(nproc)"
(cd build-asan && ctest --output-on-failure -j2 -L unit -LE fuzz) || status=$?
exit $status
