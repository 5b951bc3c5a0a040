#!/usr/bin/env bash
# packaging's examples beyond one machine: nginx accepts nginx-tandem.conf (nginx -t inside a minimal
# main config of our own), kubernetes.yaml parses and keeps the timings the daemon needs.
# Usage: test_examples.sh SOURCE_DIR
set -euo pipefail
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

command -v nginx >/dev/null || fail "nginx is not installed (scripts/install-deps.sh installs it)"
mkdir -p "$tmp/logs"
cat > "$tmp/nginx.conf" <<CONF
pid $tmp/nginx.pid;
error_log $tmp/logs/error.log;
events {}
http {
    access_log off;
    client_body_temp_path $tmp/body;
    proxy_temp_path $tmp/proxy;
    include $src/packaging/nginx-tandem.conf;
}
CONF
nginx -t -q -c "$tmp/nginx.conf" -p "$tmp" || fail "nginx -t rejects packaging/nginx-tandem.conf"
for want in "proxy_buffering off" "proxy_cache off" "proxy_http_version 1.1" 'proxy_set_header Connection ""' \
    least_conn max_fails= proxy_read_timeout keepalive; do
    grep -q -e "$want" "$src/packaging/nginx-tandem.conf" || fail "nginx-tandem.conf lacks $want"
done
echo "nginx-tandem.conf: nginx -t ok"

# Debian's python3 with python3-yaml (not whatever python3 comes first in PATH).
/usr/bin/python3 - "$src/packaging/kubernetes.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kinds = {d["kind"]: d for d in docs}
assert set(kinds) == {"Deployment", "Service"}, kinds.keys()
pod = kinds["Deployment"]["spec"]["template"]["spec"]
(c,) = pod["containers"]
env = {e["name"]: e.get("value") for e in c.get("env", [])}
for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
    assert c[probe]["httpGet"]["path"] == "/health", probe
drain = float(env.get("TANDEM_DRAIN_TIMEOUT", 30))
sleep = float(c["lifecycle"]["preStop"]["exec"]["command"][-1])
grace = pod["terminationGracePeriodSeconds"]
# The grace period runs from preStop: the sleep, the whole drain and the engine's shutdown must fit.
assert grace >= sleep + drain + 5, (grace, sleep, drain)
sc = c["securityContext"]
assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"], sc
assert pod["securityContext"]["runAsNonRoot"], pod["securityContext"]
assert env["TANDEM_HOST"] == "0.0.0.0"
svc = kinds["Service"]["spec"]
assert svc["selector"] == kinds["Deployment"]["spec"]["selector"]["matchLabels"]
print(f"kubernetes.yaml: ok (grace {grace} s >= preStop {sleep:g} + drain {drain:g} + 5)")
PY
