#!/usr/bin/env bash
# Installs the Debian 12 packages Tandem builds and tests with, if any are missing. Run as root.
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config git clang clang-format libclang-rt-14-dev
      libboost-dev libasio-dev nlohmann-json3-dev libspdlog-dev libpcre2-dev
      libcli11-dev libtomlplusplus-dev libsystemd-dev libutf8proc-dev libgtest-dev libbenchmark-dev libopenblas-dev curl
      dpkg-dev lintian init-system-helpers systemd man-db strace nginx python3-yaml zlib1g-dev chromium
      libvulkan-dev glslc mesa-vulkan-drivers)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
# Node.js (for the e2e tests' openai SDK): any node with npm will do, e.g. a NodeSource build that
# already bundles npm; Debian's own packages only when neither command exists.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
