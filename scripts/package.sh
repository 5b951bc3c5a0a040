#!/usr/bin/env bash
# Builds the Debian package for release: a Release build in build-deb with Debian's hardening flags
# (dpkg-buildflags, hardening=+all), then cpack, then lintian. Prints the .deb's path last.
# Usage: scripts/package.sh [OUT_DIR]   (default build-deb/dist)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build-deb/dist}
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
cppflags=$(dpkg-buildflags --get CPPFLAGS)
cmake -S . -B build-deb -G Ninja -DCMAKE_BUILD_TYPE=Release -DTANDEM_BUILD_TESTS=OFF \
      -DCMAKE_C_FLAGS="$cppflags $(dpkg-buildflags --get CFLAGS)" \
      -DCMAKE_CXX_FLAGS="$cppflags $(dpkg-buildflags --get CXXFLAGS)" \
      -DCMAKE_EXE_LINKER_FLAGS="$(dpkg-buildflags --get LDFLAGS)" >/dev/null
cmake --build build-deb -j"$(nproc)" --target tandem tandem_package_files
rm -rf "$out"
cpack --config build-deb/CPackConfig.cmake -B "$out" >/dev/null
deb=$(ls "$out"/tandem_*.deb)
if command -v lintian >/dev/null; then
    lintian --fail-on error "$deb" || { echo "lintian found errors in $deb" >&2; exit 1; }
fi
echo "$deb"
