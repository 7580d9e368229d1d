#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# wgotp-portal's limits against a real libmicrohttpd, over plain HTTP on
# loopback (no root needed): the cap of connections per address, an idle
# connection (slowloris) closed after RequestTimeout, a body announced
# too large refused with 413 before it is sent, a header flood refused,
# the start-up notice of plain HTTP, and a non-loopback Listen without a
# certificate refused as a configuration error.
set -u
. "$top_srcdir/tests/integration/lib/tap.sh"
PORTAL="$top_builddir/wgotp-portal/wgotp-portal"
[ -x "$PORTAL" ] || { echo "1..0 # SKIP wgotp-portal not built (libmicrohttpd-dev missing)"; exit 0; }
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 missing"; exit 0; }

D=$(mktemp -d "${TMPDIR:-/tmp}/wgotp-plim.XXXXXX")
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$D"; }
trap cleanup EXIT
(umask 077; openssl rand -hex 32 >"$D/server.key")
echo '{ "version": 1, "users": {} }' >"$D/users.json"
chmod 640 "$D/users.json"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
MPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
conf() {
	cat >"$D/wgotp.conf" <<CONF
[General]
Directory = $D/users.json
ServerKeyFile = $D/server.key
AuditLog = stderr
[Store]
Path = $D/state.db
[Activator]
Socket = $D/act.sock
[Portal]
Listen = $1
AssetsDirectory = $top_srcdir/wgotp-portal/assets
MaxConnectionsPerIP = 4
RequestTimeout = 2s
MaxBodySize = 256
Threads = 1
MetricsListen = 127.0.0.1:$MPORT
CONF
}

conf "0.0.0.0:$PORT"
out=$("$PORTAL" -c "$D/wgotp.conf" --check 2>&1)
rc=$?
check "a non-loopback Listen without a certificate: refused (rc $rc: $out)" \
	eval '[ $rc -ne 0 ] && case "$out" in *"is not a loopback address"*) true ;; *) false ;; esac'

conf "127.0.0.1:$PORT"
"$PORTAL" -c "$D/wgotp.conf" -f >"$D/portal.log" 2>&1 &
PID=$!
for _i in $(seq 1 100); do
	curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
	sleep 0.1
done
check "it says it speaks plain HTTP on loopback" grep -q "plain HTTP, on loopback only" "$D/portal.log"

python3 - "$PORT" >"$D/py.out" <<'PY'
import socket, sys, time
port = int(sys.argv[1])

def conn():
    return socket.create_connection(("127.0.0.1", port), timeout=5)

def closed(s, wait):
    """True when the server closes s within wait seconds."""
    s.settimeout(wait)
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False

# 1. four connections per address, the fifth is closed at once
held = [conn() for _ in range(4)]
for s in held:
    s.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
    s.recv(4096)
fifth = conn()
try:
    fifth.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    print("fifth_closed", closed(fifth, 2))
except (ConnectionResetError, BrokenPipeError):
    print("fifth_closed", True)
for s in held:
    s.close()
time.sleep(0.3)

# 2. slowloris: half a request line, then nothing; closed after ~2 s
s = conn()
s.sendall(b"GET / HT")
t0 = time.time()
c = closed(s, 6)
print("idle_closed", c, "after %.1f" % (time.time() - t0))

# 3. a body announced too large: 413 before a byte of it is sent
s = conn()
s.sendall(b"POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Content-Length: 100000\r\n\r\n")
s.settimeout(3)
try:
    r = s.recv(4096).decode(errors="replace")
except socket.timeout:
    r = ""
print("big_body", r.split("\r\n")[0] if r else "none", "payload_too_large" in r)
s.close()

# 4. a flood of headers beyond the connection's memory: refused, not buffered
s = conn()
try:
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Junk: " + b"a" * 60000 + b"\r\n\r\n")
    s.settimeout(3)
    r = s.recv(4096).decode(errors="replace")
except (ConnectionResetError, BrokenPipeError, socket.timeout):
    r = ""
print("header_flood", (r.split("\r\n")[0] if r else "closed"))
s.close()
PY
cat "$D/py.out" | sed 's/^/# /'
check "a fifth connection from one address is refused (MaxConnectionsPerIP = 4)" grep -q "^fifth_closed True" "$D/py.out"
idle=$(sed -n 's/^idle_closed True after \([0-9.]*\)/\1/p' "$D/py.out")
check "an idle half request is closed after RequestTimeout (${idle:-never} s)" \
	awk -v t="${idle:-99}" 'BEGIN { exit !(t >= 1.5 && t <= 4.5) }'
check "a body announced over MaxBodySize: 413 before it is sent" grep -q "^big_body HTTP/1.1 413 .* True" "$D/py.out"
check "a header flood is refused (4xx or closed)" grep -Eq "^header_flood (closed|HTTP/1.1 4[0-9][0-9])" "$D/py.out"
check "the portal still answers" curl -sf -o /dev/null "http://127.0.0.1:$PORT/api/v1/status"
check "and still runs" kill -0 "$PID"

# Its own metrics ([Portal] MetricsListen), on a listener of their own.
curl -sS --max-time 5 "http://127.0.0.1:$MPORT/metrics" >"$D/metrics" 2>&1
ok $? "GET /metrics on MetricsListen"
mval() { awk -v k="$1" '$1 == k { print $2 }' "$D/metrics"; }
check "the 413 is counted as a refusal (payload_too_large)" \
	test "$(mval 'wgotp_portal_refusals_total{error="payload_too_large"}')" -ge 1
check "replies counted by kind and status (api 200)" \
	test "$(mval 'wgotp_portal_replies_total{kind="api",code="200"}')" -ge 1
check "open connections are a gauge" grep -q '^wgotp_portal_connections [0-9]' "$D/metrics"
if command -v promtool >/dev/null 2>&1; then
	promtool check metrics <"$D/metrics" >"$D/promtool.out" 2>&1
	ok $? "promtool check metrics passes on the scrape$( [ -s "$D/promtool.out" ] && printf ': %s' "$(head -c 200 "$D/promtool.out")")"
else
	skip "promtool is not installed"
fi
is "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/api/v1/status")" 404 \
	"the metrics listener serves /metrics only (404)"
is "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$MPORT/metrics")" 405 "... and only GET (405)"
is "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/metrics")" 404 \
	"the employees' listener has no /metrics"
done_testing
