#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# TOTP verifications per second and p99 latency of wgotp-portal over
# HTTPS with keep-alive, driven by wrk (Debian's wrk, a Lua script:
# portal_verify.lua), each request another user with a current code (a
# code verifies once; replays are refused); then the portal's memory (RSS)
# with 1,000 open TLS connections; then the RADIUS figure of the same
# machine from rlm_bench.sh, printed beside it.
# Goal on 2 cores: >= 2,000 verifies/s, p99 <= 20 ms.
#
#   top_srcdir=... top_builddir=... sh tests/bench/portal_bench.sh [USERS] [CONNECTIONS] [SECONDS]
#
# USERS (default 100000) must outlast the run: wrk's request count is not
# fixed, so more users than SECONDS x rate. CONNECTIONS default 16,
# SECONDS 10. PORTAL_THREADS ([Portal] Threads, default 2: one per core). RLM_USERS
# (default 20000; 0 skips the RADIUS run). The portal is the only
# front end here: no device, so no activation (as rlm_bench.sh runs
# with activate = no).
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
N=${1:-100000}
CONNS=${2:-16}
SECS=${3:-10}
PORTAL="$top_builddir/wgotp-portal/wgotp-portal"
[ -x "$PORTAL" ] || { echo "build wgotp-portal first (libmicrohttpd-dev)" >&2; exit 2; }
for t in wrk openssl curl python3; do
	command -v "$t" >/dev/null || { echo "$t needed (build-aux/install-deps)" >&2; exit 2; }
done
ulimit -n 8192 2>/dev/null || { echo "cannot raise the file limit to 8192" >&2; exit 2; }

D=$(mktemp -d "${TMPDIR:-/tmp}/wgotp-pbench.XXXXXX")
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$D"; }
trap cleanup EXIT INT TERM

(umask 077; openssl rand -hex 32 >"$D/server.key"
 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$D/tls.key" \
	-out "$D/tls.pem" -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null) ||
	{ echo "openssl failed" >&2; exit 1; }
python3 "$top_srcdir/tests/bench/totp_users.py" users "$N" "$D/users.json" "$D/secrets.tsv" || exit 1
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$D/wgotp.conf" <<CONF
[General]
Directory = $D/users.json
ServerKeyFile = $D/server.key
AuditLog = $D/audit.log

[Store]
Path = $D/state.db

[Activator]
Socket = $D/activator.sock

[Portal]
Listen = 127.0.0.1:$PORT
CertificateFile = $D/tls.pem
PrivateKeyFile = $D/tls.key
AssetsDirectory = $top_srcdir/wgotp-portal/assets
Threads = ${PORTAL_THREADS:-2}
MaxConnections = 4096
MaxConnectionsPerIP = 0
MaxRequestsPerIP = 0
MaxLoginsPerUser = 0
RequestTimeout = 60s
CONF
"$PORTAL" -c "$D/wgotp.conf" -f >"$D/portal.log" 2>&1 &
PID=$!
for _i in $(seq 1 100); do
	curl -sk -o /dev/null "https://127.0.0.1:$PORT/" && break
	sleep 0.1
done
# An anonymous cookie and its CSRF token (the login needs them, like the page's).
st=$(curl -sk -D "$D/hdr" "https://127.0.0.1:$PORT/api/v1/status")
PB_COOKIE=$(sed -n 's/^[Ss]et-[Cc]ookie: __Host-wgotp=\([0-9a-f]*\);.*/\1/p' "$D/hdr")
PB_CSRF=$(echo "$st" | python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf"])')
[ -n "$PB_COOKIE" ] && [ -n "$PB_CSRF" ] || { echo "no cookie from the portal" >&2; cat "$D/portal.log" >&2; exit 1; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$PID/status"; }
echo "portal: RSS idle: $(rss) KiB (users.json of $N users loaded)"

python3 "$top_srcdir/tests/bench/totp_users.py" codes "$D/secrets.tsv" "$D/codes.tsv" || exit 1
# warm-up: 200 users, then measure with the rest
head -n 200 "$D/codes.tsv" >"$D/warm.tsv"
tail -n +201 "$D/codes.tsv" >"$D/run.tsv"
THREADS=2
PB_CODES="$D/warm.tsv" PB_COOKIE=$PB_COOKIE PB_CSRF=$PB_CSRF PB_THREADS=$THREADS \
	wrk -t"$THREADS" -c"$THREADS" -d1s -s "$top_srcdir/tests/bench/portal_verify.lua" \
	"https://127.0.0.1:$PORT" >/dev/null
replays0=$(grep -c 'result=reject reason=replay' "$D/audit.log")
# BENCH_PERF=FILE: record the portal (perf record -g) during the run.
perf_pid=
if [ -n "${BENCH_PERF:-}" ]; then
	perf record ${BENCH_PERF_ARGS:--g} -o "$BENCH_PERF" -p "$PID" >/dev/null 2>&1 &
	perf_pid=$!
	sleep 0.5
fi
PB_CODES="$D/run.tsv" PB_COOKIE=$PB_COOKIE PB_CSRF=$PB_CSRF PB_THREADS=$THREADS \
	wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --latency -s "$top_srcdir/tests/bench/portal_verify.lua" \
	"https://127.0.0.1:$PORT" | tee "$D/wrk.out"
if [ -n "$perf_pid" ]; then
	kill -INT "$perf_pid"
	wait "$perf_pid"
fi
line=$(grep '^portal: verify_ok=' "$D/wrk.out")
replays=$(($(grep -c 'result=reject reason=replay' "$D/audit.log") - replays0))
echo "portal: replays refused: $replays (wrapped=$(echo "$line" | sed -n 's/.*wrapped=\([0-9]*\).*/\1/p'))"

# Memory at 1,000 open TLS connections, each having made one request.
python3 - "$PORT" 1000 "$PID" <<'PY'
import socket, ssl, sys, time
port, n, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
socks = []
for i in range(n):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)))
    s.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    s.recv(65536)
    socks.append(s)
time.sleep(0.5)
rss = [l.split()[1] for l in open("/proc/%s/status" % pid) if l.startswith("VmRSS")][0]
print("portal: RSS with %d open TLS connections: %s KiB" % (len(socks), rss))
PY

RLM_USERS=${RLM_USERS:-20000}
if [ "$RLM_USERS" -gt 0 ] && [ -x "$top_builddir/tests/bench/radload" ]; then
	PAP_REPEAT=1 sh "$top_srcdir/tests/bench/rlm_bench.sh" "$RLM_USERS" "$CONNS" >"$D/rlm.out" 2>&1
	radius=$(grep '^ratio' "$D/rlm.out")
	echo "radius: ${radius:-no figure (see rlm_bench.sh)}"
else
	radius=
	echo "radius: not run (RLM_USERS=0 or tests/bench/radload not built: make -C tests bench/radload)"
fi
echo "$line" | awk -v radius="$radius" '{
	for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	printf "summary: portal %.0f verifies/s p99 %.2f ms over HTTPS keep-alive", v["rps"], v["p99_ms"]
	if (match(radius, /wgotp [0-9]+ req\/s p99 [0-9.]+ ms/))
		printf "; RADIUS %s", substr(radius, RSTART + 6, RLENGTH - 6)
	printf "\n"
	exit (v["rps"] >= 2000 && v["p99_ms"] <= 20) ? 0 : 1
}'
