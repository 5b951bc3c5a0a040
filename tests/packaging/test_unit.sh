#!/usr/bin/env bash
# packaging/tandem.service: `systemd-analyze verify` prints nothing (alone and with the Vulkan drop-in),
# `systemd-analyze security --offline` scores the sandbox at most 2.0, and the settings the daemon's
# sd_notify integration relies on are there. Needs no running systemd.
# Usage: test_unit.sh SOURCE_DIR TANDEM_BINARY
set -euo pipefail
src=$1 bin=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# verify checks that ExecStart's binary exists: the built one stands in for /usr/bin/tandem (the
# package test checks that path). Documentation=man:tandem(1) is looked up with man(1): MANPATH
# points it at ours.
mkdir -p "$tmp/units" "$tmp/man/man1"
sed "s|/usr/bin/tandem|$bin|" "$src/packaging/tandem.service" > "$tmp/units/tandem.service"
grep -q "ExecStart=$bin serve" "$tmp/units/tandem.service" || fail "ExecStart is not /usr/bin/tandem serve ..."
cp "$src/packaging/tandem.1" "$tmp/man/man1/tandem.1"
verify() {
    local out
    out=$(MANPATH="$tmp/man" systemd-analyze verify "$tmp/units/tandem.service" 2>&1) || fail "verify failed: $out"
    # verify exits 0 on unknown keys and other warnings: any output is a finding.
    [ -z "$out" ] || fail "systemd-analyze verify $1: $out"
    echo "verify $1: clean"
}
verify "tandem.service"

# The sandbox: at most 2.0 (systemd-analyze's threshold is in tenths).
systemd-analyze security --offline=true --threshold=20 "$tmp/units/tandem.service" > "$tmp/security.txt" ||
    fail "security exposure above 2.0: $(tail -1 "$tmp/security.txt")"
tail -1 "$tmp/security.txt"
# What the daemon's protocol and the package rely on.
for want in Type=notify NotifyAccess=main WatchdogSec= TimeoutStartSec= TimeoutStopSec= Restart=on-failure \
    "EnvironmentFile=-/etc/default/tandem" "--config /etc/tandem/tandem.toml" StateDirectory=tandem \
    DynamicUser=yes MemoryDenyWriteExecute=yes "SystemCallFilter=@system-service" \
    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX"; do
    grep -q -e "$want" "$src/packaging/tandem.service" || fail "tandem.service lacks $want"
done

# The man page documents every option `tandem serve --help` lists (troff escapes its dashes).
"$bin" serve --help > "$tmp/help.txt"
for opt in $(grep -oE -- '--[a-z][a-z0-9-]*' "$tmp/help.txt" | sort -u); do
    name=${opt#--}
    [ "$name" = help ] && continue
    troff=${name//-/\\-}
    # llama.cpp's two-letter flags (-np, -md) are written with one dash.
    grep -qF -e "\\-\\-$troff" -e "\\-$troff " "$src/packaging/tandem.1" || fail "packaging/tandem.1 lacks $opt"
done
echo "tandem.1 documents every serve option"

# The Vulkan drop-in next to the unit, as under /etc/systemd/system/tandem.service.d/.
mkdir -p "$tmp/units/tandem.service.d"
cp "$src/packaging/vulkan-gpu.conf" "$tmp/units/tandem.service.d/"
verify "tandem.service + vulkan-gpu.conf"
systemd-analyze security --offline=true "$tmp/units/tandem.service" | tail -1
