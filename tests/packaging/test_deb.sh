#!/usr/bin/env bash
# The .deb: cpack builds it from this build tree; its fields, files, modes and conffiles are checked,
# lintian finds no errors, and dpkg installs it into a scratch root (maintainer scripts run
# chrootless with DPKG_ROOT set, so this machine's systemd and dpkg database are never touched): the
# binary runs from there and prints the package's version, the unit is enabled, the conffiles are
# registered, the man page renders; then remove keeps only the conffiles and purge leaves no file.
# Usage: test_deb.sh SOURCE_DIR BUILD_DIR DEB_VERSION
set -euo pipefail
src=$1 build=$2 version=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
upstream=${version%-*}

# --- Build ---
cpack --config "$build/CPackConfig.cmake" -B "$tmp/out" > "$tmp/cpack.log" 2>&1 || { cat "$tmp/cpack.log"; fail "cpack"; }
deb="$tmp/out/tandem_${version}_$(dpkg --print-architecture).deb"
[ -f "$deb" ] || fail "cpack wrote $(ls "$tmp/out"), not $deb"
echo "built $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"

# --- Control fields and maintainer scripts ---
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = tandem ] || fail "Package: $(field Package)"
[ "$(field Version)" = "$version" ] || fail "Version: $(field Version), want $version"
depends=$(field Depends)
for dep in "init-system-helpers (>= " "libc6 (>= " "libstdc++6 (>= "; do
    grep -qF "$dep" <<< "$depends" || fail "Depends lacks '$dep': $depends"
done
[[ "$(head -1 "$src/packaging/debian/changelog")" == "tandem ($version) "* ]] ||
    fail "packaging/debian/changelog's first entry is not $version: $(head -1 "$src/packaging/debian/changelog")"
dpkg-deb -e "$deb" "$tmp/control"
for s in postinst prerm postrm; do [ -x "$tmp/control/$s" ] || fail "no executable $s"; done
diff <(sort "$tmp/control/conffiles") <(printf '%s\n' /etc/default/tandem /etc/tandem/tandem.toml) ||
    fail "conffiles differ"
# The scripts start and stop only through deb-systemd-invoke; systemctl only reloads (lintian's rule).
if grep -nE '(^|[;&|]\s*)systemctl\b' "$tmp"/control/{postinst,prerm,postrm} | grep -v daemon-reload; then
    fail "a maintainer script calls systemctl for more than daemon-reload"
fi

# --- Files and modes ---
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $1, $2, $6}' | sort -k3 > "$tmp/files"
sort -k3 > "$tmp/want" <<LIST
-rw------- root/root ./etc/default/tandem
-rw-r--r-- root/root ./etc/tandem/tandem.toml
-rw-r--r-- root/root ./lib/systemd/system/tandem.service
-rwxr-xr-x root/root ./usr/bin/tandem
-rw-r--r-- root/root ./usr/share/doc/tandem/changelog.Debian.gz
-rw-r--r-- root/root ./usr/share/doc/tandem/copyright
-rw-r--r-- root/root ./usr/share/doc/tandem/examples/kubernetes.yaml
-rw-r--r-- root/root ./usr/share/doc/tandem/examples/nginx-tandem.conf
-rw-r--r-- root/root ./usr/share/doc/tandem/examples/vulkan-gpu.conf
-rw-r--r-- root/root ./usr/share/man/man1/tandem.1.gz
LIST
diff "$tmp/want" "$tmp/files" || fail "package contents differ (< wanted, > packaged)"

# --- lintian: errors fail, the rest is shown ---
if command -v lintian >/dev/null; then
    lintian --allow-root --fail-on error --tag-display-limit 0 "$deb" > "$tmp/lintian.txt" 2>&1 || {
        cat "$tmp/lintian.txt"
        fail "lintian"
    }
    echo "lintian: $(grep -c . "$tmp/lintian.txt" || true) finding(s), no error"
    cat "$tmp/lintian.txt"
else
    fail "lintian is not installed (scripts/install-deps.sh installs it)"
fi

# --- Install into a scratch root ---
root="$tmp/root"
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/triggers"
touch "$root/var/lib/dpkg/status"
host_link=/etc/systemd/system/multi-user.target.wants/tandem.service
host_had_link=$([ -e "$host_link" ] && echo yes || echo no)
# --force-depends: the scratch root has none of the libraries (the binary runs on this machine's).
dpkg_root() { dpkg --root="$root" --force-script-chrootless --force-depends --path-include='*' --log="$tmp/dpkg.log" "$@"; }
dpkg_root -i "$deb" > "$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "dpkg -i"; }
status() { dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${db:Status-Abbrev}' tandem 2>/dev/null || true; }
[ "$(status)" = "ii " ] || fail "status after install: '$(status)'"

out=$("$root/usr/bin/tandem" --version 2>&1) || fail "tandem --version: $out"
[ "$out" = "tandem $upstream" ] || fail "tandem --version printed '$out', want 'tandem $upstream'"
echo "tandem --version: $out"
"$root/usr/bin/tandem" serve --help > "$tmp/help.txt" || fail "tandem serve --help"
grep -q -- "--drain-timeout" "$tmp/help.txt" || fail "serve --help lacks --drain-timeout"

conffiles=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Conffiles}' tandem)
for f in /etc/default/tandem /etc/tandem/tandem.toml; do
    grep -q "^ $f [0-9a-f]\{32\}$" <<< "$conffiles" || fail "$f is not a registered conffile: $conffiles"
done
cmp "$root/etc/tandem/tandem.toml" "$src/config/tandem.toml" || fail "/etc/tandem/tandem.toml is not config/tandem.toml"
[ "$(readlink "$root$host_link")" = /lib/systemd/system/tandem.service ] || fail "postinst did not enable the unit"
[ -e "$root/var/lib/systemd/deb-systemd-helper-enabled/tandem.service.dsh-also" ] || fail "no deb-systemd-helper state"
[ "$(readlink "$root/var/lib/tandem")" = private/tandem ] && [ -d "$root/var/lib/private/tandem/models" ] &&
    [ "$(stat -c %a "$root/var/lib/private")" = 700 ] || fail "postinst did not make /var/lib/tandem/models as systemd would"
[ "$host_had_link" = yes ] || [ ! -e "$host_link" ] || fail "the install touched this machine's systemd ($host_link)"
warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$root/usr/share/man/man1/tandem.1.gz" 2>&1 >/dev/null)
[ -z "$warnings" ] || fail "man page warnings: $warnings"
th=$(zcat "$root/usr/share/man/man1/tandem.1.gz")
th=$(grep -m1 '^\.TH' <<< "$th")
[[ "$th" == *"\"tandem $upstream\""* ]] || fail "packaging/tandem.1's .TH names another version: $th"
page=$(LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$root/usr/share/man/man1/tandem.1.gz" 2>/dev/null)
grep -q "drain-timeout" <<< "$page" || fail "the man page does not render or lacks --drain-timeout"

# --- Remove: only the conffiles stay, and the unit is masked ---
dpkg_root -r tandem > "$tmp/remove.log" 2>&1 || { cat "$tmp/remove.log"; fail "dpkg -r"; }
[ "$(status)" = "rc " ] || fail "status after remove: '$(status)'"
[ ! -e "$root/usr/bin/tandem" ] && [ ! -e "$root/lib/systemd/system/tandem.service" ] || fail "files left after remove"
[ -f "$root/etc/tandem/tandem.toml" ] && [ -f "$root/etc/default/tandem" ] || fail "remove took the conffiles"
[ "$(readlink "$root/etc/systemd/system/tandem.service")" = /dev/null ] || fail "postrm did not mask the unit"

# --- Purge: no file left but dpkg's own database ---
dpkg_root -P tandem > "$tmp/purge.log" 2>&1 || { cat "$tmp/purge.log"; fail "dpkg -P"; }
[ -z "$(status)" ] || [ "$(status)" = "un " ] || fail "status after purge: '$(status)'"
left=$(cd "$root" && find . -mindepth 1 ! -type d ! -path './var/lib/dpkg/*')
[ -z "$left" ] || fail "files left after purge: $left"
# Empty directories may stay only where systemd keeps its own (deb-systemd-helper made them here).
dirs=$(cd "$root" && find . -mindepth 1 -type d ! -path './var/lib/dpkg*' | sort | tr '\n' ' ')
[ "$dirs" = "./etc ./etc/systemd ./etc/systemd/system ./var ./var/lib ./var/lib/systemd " ] ||
    fail "directories left after purge: $dirs"
echo "install, remove, purge: clean"
