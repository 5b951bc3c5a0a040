#!/usr/bin/env bash
# The daemon under packaging/tandem.service's sandbox rules, without systemd: `tandem serve` runs under
# strace through load, a plain and a streamed completion, /metrics and a SIGTERM drain, and every
# system call it makes must pass the unit's SystemCallFilter= lines, its sockets RestrictAddressFamilies=,
# its memory MemoryDenyWriteExecute= (no writable+executable mapping, no mprotect to executable), its
# files ProcSubset=pid / PrivateDevices= / ProtectHome= / ProtectSystem=strict. Then it serves again
# under the kernel's own W^X lock (prctl PR_SET_MDWE), where the kernel has it.
# Usage: test_sandbox.sh SOURCE_DIR TANDEM_BINARY MODEL
set -euo pipefail
src=$1 bin=$2 model=$3
tmp=$(mktemp -d)
pid="" daemon="" listener=""  # strace (or the daemon itself), the daemon under strace, the notify listener
cleanup() {
    # On a failure the daemon may still run: SIGKILL it (strace does not pass its own SIGTERM on).
    [ -z "$daemon" ] || kill -KILL "$daemon" 2>/dev/null || true
    [ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true
    [ -z "$listener" ] || kill "$listener" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    [ -f "$tmp/log" ] && tail -20 "$tmp/log" >&2
    # How the traced daemon ended ("+++ killed by SIGKILL +++", a fault, an exit) and its last calls.
    [ -s "$tmp/trace" ] && { echo "--- the trace's last lines:"; tail -15 "$tmp/trace"; } >&2
    exit 1
}
[ -f "$model" ] || fail "no model $model"
command -v strace >/dev/null || fail "strace is not installed (scripts/install-deps.sh installs it)"

# Waits for "listening on http://HOST:PORT" in the log, then for /health to answer 200; sets $port.
wait_ready() {
    port=""
    for _ in $(seq 600); do
        port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$tmp/log" | head -1)
        if [ -n "$port" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health")" = 200 ]; then
            return 0
        fi
        kill -0 "$1" 2>/dev/null || fail "the daemon exited while starting"
        sleep 0.1
    done
    fail "not ready after 60 s"
}
exercise() {
    local base="http://127.0.0.1:$port" out
    # Whole responses first: grep -q would close the pipe early and fail curl under pipefail.
    out=$(curl -sf "$base/v1/completions" -H 'Content-Type: application/json' \
        -d '{"prompt": "Once upon a time", "max_tokens": 8, "temperature": 0}') || fail "completion"
    grep -q '"text"' <<< "$out" || fail "completion: $out"
    out=$(curl -sfN "$base/v1/chat/completions" -H 'Content-Type: application/json' \
        -d '{"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8, "stream": true}') || fail "streaming"
    grep -q 'data: \[DONE\]' <<< "$out" || fail "streamed chat completion: $out"
    out=$(curl -sf "$base/metrics") || fail "/metrics"
    grep -q tandem_requests_running <<< "$out" || fail "/metrics lacks tandem_requests_running"
}
# SIGTERM to the daemon (`$1`, a process of ours), then its exit status must be 0 (a clean drain).
stop_daemon() {
    # A daemon already gone here died on its own after serving: say so, with its log, rather than
    # letting set -e end the test silently on kill's error.
    kill -TERM "$1" 2>/dev/null || fail "the daemon (pid $1) exited before SIGTERM"
    local rc=0
    wait "$pid" || rc=$?
    pid="" daemon=""
    [ "$rc" = 0 ] || fail "exit status $rc after SIGTERM"
}

# A notify socket as systemd's (Type=notify, WatchdogSec=2s), so the trace includes the sd_notify
# traffic; a listener of ours logs each message as a line.
/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "w", buffering=1) as out:
    while True:
        out.write(s.recv(4096).decode().replace("\n", " ") + "\n")
' "$tmp/notify.sock" "$tmp/notify.log" &
listener=$!
for _ in $(seq 100); do [ -S "$tmp/notify.sock" ] && break; sleep 0.05; done

# --- 1. Under strace ---
NOTIFY_SOCKET="$tmp/notify.sock" WATCHDOG_USEC=2000000 \
    strace -f -qq -s 200 -o "$tmp/trace" "$bin" serve -m "$model" --host 127.0.0.1 --port 0 > "$tmp/log" 2>&1 &
pid=$!
# strace's child once it runs tandem: strace first forks short-lived children of its own to probe
# ptrace, and under load one of those could be taken for the daemon (then SIGTERM found it gone).
comm=$(basename "$bin" | cut -c1-15)  # the name pgrep matches: the kernel keeps 15 characters
for _ in $(seq 100); do daemon=$(pgrep -P "$pid" -x "$comm" || true); [ -n "$daemon" ] && break; sleep 0.05; done
[ -n "$daemon" ] || fail "strace did not start the daemon"
wait_ready "$pid"
exercise
stop_daemon "$daemon"
echo "served under strace: $(wc -l < "$tmp/trace") system calls traced"
# The notifications, in the order they first come: loading, READY=1, watchdog pings while serving,
# STOPPING=1 at the drain (pings may go on through the drain: the engine beats until it stops).
for _ in $(seq 100); do grep -q STOPPING=1 "$tmp/notify.log" && break; sleep 0.05; done
order=$(grep -oE '^(STATUS=loading|READY=1|WATCHDOG=1|STOPPING=1)' "$tmp/notify.log" | awk '!seen[$0]++' | tr '\n' ' ')
[ "$order" = "STATUS=loading READY=1 WATCHDOG=1 STOPPING=1 " ] || {
    cat "$tmp/notify.log"
    fail "sd_notify messages out of order: $order"
}
# After STOPPING=1 only watchdog pings (no second READY=1, no loading).
late=$(grep -oE '^(STATUS=loading|READY=1|WATCHDOG=1|STOPPING=1)' "$tmp/notify.log" | sed -n '/^STOPPING=1$/,$p' |
    grep -vx -e STOPPING=1 -e WATCHDOG=1 || true)
[ -z "$late" ] || { cat "$tmp/notify.log"; fail "after STOPPING=1: $late"; }
echo "sd_notify: $(grep -c . "$tmp/notify.log") messages: $order"

/usr/bin/python3 - "$tmp/trace" "$src/packaging/tandem.service" <<'PY'
import re, subprocess, sys
trace, unit = sys.argv[1], sys.argv[2]

# The unit's rules, read from the unit itself.
lines = [l.strip() for l in open(unit) if not l.lstrip().startswith("#")]
filters = [l.split("=", 1)[1].split() for l in lines if l.startswith("SystemCallFilter=")]
families = next(l.split("=", 1)[1].split() for l in lines if l.startswith("RestrictAddressFamilies="))

# systemd's syscall groups, expanded recursively.
groups, cur = {}, None
for l in subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True, text=True, check=True).stdout.splitlines():
    s = l.strip()
    if not s or s.startswith("#"):
        continue
    if not l.startswith(" "):
        cur = groups.setdefault(s, [])
    elif cur is not None:
        cur.append(s)
def expand(names, seen=None):
    out = set()
    for n in names:
        if n.startswith("@"):
            out |= expand(groups[n])
        else:
            out.add(n)
    return out
allowed = set()
for i, f in enumerate(filters):  # the first list allows, a later "~" list takes away
    if f[0].startswith("~"):
        allowed -= expand([f[0][1:]] + f[1:])
    else:
        allowed = expand(f) if i == 0 else allowed | expand(f)

problems, used, opened = [], set(), []
call = re.compile(r"^\d+\s+(?:<\.\.\. (\w+) resumed>|(\w+)\()(.*)$")
for l in open(trace):
    m = call.match(l)
    if not m:
        continue
    name, rest = m.group(1) or m.group(2), m.group(3)
    used.add(name)
    if m.group(1):  # "<... name resumed>": the arguments are on the call's "<unfinished ...>" line
        continue
    if name == "mmap" and "PROT_WRITE" in rest and "PROT_EXEC" in rest:
        problems.append("writable+executable mmap: " + l.strip())
    if name in ("mprotect", "pkey_mprotect") and "PROT_EXEC" in rest:
        problems.append("mprotect to executable: " + l.strip())
    if name == "shmat" and "SHM_EXEC" in rest:
        problems.append("executable shmat: " + l.strip())
    if name == "socket":
        fam = rest.split(",")[0]
        if fam not in families:
            problems.append(f"socket family {fam} (RestrictAddressFamilies={' '.join(families)})")
    if name in ("open", "openat", "openat2"):
        p = re.search(r'"([^"]*)"', rest)
        if p:
            opened.append((p.group(1), rest))
for c in sorted(used - allowed):
    problems.append(f"system call {c} is outside SystemCallFilter=")
# glibc's malloc reads this when it shrinks a thread's heap; hidden, it keeps the heap mapped instead.
benign = {"/proc/sys/vm/overcommit_memory"}
dev_ok = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/pts/", "/dev/shm/")
for path, rest in opened:
    if path in benign:
        continue
    if path.startswith("/proc/") and not re.match(r"/proc/(self|thread-self|\d+)(/|$)", path):
        problems.append(f"opens {path}: hidden by ProcSubset=pid")
    if path.startswith("/dev/") and not path.startswith(dev_ok):
        problems.append(f"opens {path}: hidden by PrivateDevices=yes")
    if path.startswith(("/home/", "/root/", "/run/user/")):
        problems.append(f"opens {path}: hidden by ProtectHome=yes")
    if re.search(r"O_WRONLY|O_RDWR|O_CREAT", rest) and not path.startswith(("/tmp/", "/var/tmp/", "/dev/")):
        problems.append(f"writes {path}: read-only under ProtectSystem=strict")
if problems:
    print("\n".join(sorted(set(problems))))
    sys.exit(1)
print(f"sandbox rules: {len(used)} distinct system calls, {len(opened)} opens, all allowed")
PY

# --- 2. Under the kernel's W^X lock (Linux >= 6.3), which refuses what MemoryDenyWriteExecute= refuses ---
mdwe='import ctypes, os, sys
if ctypes.CDLL(None).prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
    sys.exit(77)
if len(sys.argv) > 1:
    os.execv(sys.argv[1], sys.argv[1:])'
if /usr/bin/python3 -c "$mdwe"; then
    : > "$tmp/log"  # wait_ready must not read the first run's port from the old log
    /usr/bin/python3 -c "$mdwe" "$bin" serve -m "$model" --host 127.0.0.1 --port 0 > "$tmp/log" 2>&1 &
    pid=$!
    wait_ready "$pid"
    exercise
    stop_daemon "$pid"
    echo "served under PR_SET_MDWE: no memory turned executable"
else
    echo "NOTE: this kernel has no PR_SET_MDWE; W^X was checked from the trace only"
fi
