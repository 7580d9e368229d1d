#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Access-Requests per second and p99 latency of rlm_wgotp (TOTP single
# pass, each request a different user with a valid code) against a PAP
# baseline on the same freeradius, in the same run; prints the ratio.
# Target: wgotp >= 0.8 x PAP.
#
#   make -C tests bench/radload
#   top_srcdir=... top_builddir=... sh tests/bench/rlm_bench.sh [USERS] [INFLIGHT]
#
# USERS (default 100000; users.json may hold 16 MiB) is also the number of wgotp requests: a code
# works once, so each request is another user. The PAP runs send the same
# users PAP_REPEAT times (default 3) so that both take seconds, not
# milliseconds: figures from runs under a second are noise.
#
# Post-auth activation is off (activate = no): this measures the RADIUS
# path and the login flow (directory, TOTP, the SQLite replay store), not
# WireGuard.
#
# BENCH_PERF=/tmp/perf.data records the server during the wgotp run
# (perf report -i /tmp/perf.data --no-children).
set -u
. "$top_srcdir/tests/integration/lib/radius.sh"
rad_require
N=${1:-100000}
PAP_REPEAT=${PAP_REPEAT:-3}
INFLIGHT=${2:-64}
RADLOAD=${RADLOAD:-$top_builddir/tests/bench/radload}
[ -x "$RADLOAD" ] || { echo "build $RADLOAD first (make -C tests bench/radload)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 needed" >&2; exit 2; }

# Threaded, without debug output (-X would be single-threaded and verbose).
RAD_FR_MODE=${RAD_FR_MODE:--f}
RAD_THREADS=${RAD_THREADS:-8}
RAD_ACTIVATE=no
rad_init
rad_enable_pap_baseline

# N TOTP users with random secrets; the codes are computed just before the
# run (valid for the current step +-1 window).
python3 "$top_srcdir/tests/bench/totp_users.py" users "$N" "$RAD_USERS" "$RAD_DIR/secrets.tsv" || exit 1
rad_start || exit 1

python3 "$top_srcdir/tests/bench/totp_users.py" codes "$RAD_DIR/secrets.tsv" "$RAD_DIR/wgotp.tsv" "$RAD_DIR/pap.tsv" ||
	exit 1

# Warm up both paths (thread pool, page cache), then measure PAP, wgotp, PAP.
head -n 200 "$RAD_DIR/pap.tsv" > "$RAD_DIR/warm.tsv"
"$RADLOAD" -s 127.0.0.1:$((RAD_PORT + 3)) -S "$RAD_SECRET" -f "$RAD_DIR/warm.tsv" -c "$INFLIGHT" -l warmup >/dev/null
for _i in $(seq 1 "$PAP_REPEAT"); do cat "$RAD_DIR/pap.tsv"; done > "$RAD_DIR/pap-long.tsv"
pap() {
	"$RADLOAD" -s 127.0.0.1:$((RAD_PORT + 3)) -S "$RAD_SECRET" -f "$RAD_DIR/pap-long.tsv" -c "$INFLIGHT" -l "$1"
}
pap pap1 | tee "$RAD_DIR/pap1.out"
# BENCH_PERF=FILE: record the server (perf record -g) during the wgotp run.
perf_pid=
if [ -n "${BENCH_PERF:-}" ]; then
	perf record ${BENCH_PERF_ARGS:--g} -o "$BENCH_PERF" -p "$RAD_SERVER_PID" >/dev/null 2>&1 &
	perf_pid=$!
	sleep 0.5
fi
"$RADLOAD" -s 127.0.0.1:$RAD_PORT -S "$RAD_SECRET" -f "$RAD_DIR/wgotp.tsv" -c "$INFLIGHT" -l wgotp-totp |
	tee "$RAD_DIR/wgotp.out"
if [ -n "$perf_pid" ]; then
	kill -INT "$perf_pid"
	wait "$perf_pid"
fi
pap pap2 | tee "$RAD_DIR/pap2.out"

val() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" "$1"; }
awk -v p1="$(val "$RAD_DIR/pap1.out" rps)" -v p2="$(val "$RAD_DIR/pap2.out" rps)" \
    -v w="$(val "$RAD_DIR/wgotp.out" rps)" -v acc="$(val "$RAD_DIR/wgotp.out" accept)" -v n="$N" \
    -v wp99="$(val "$RAD_DIR/wgotp.out" p99_ms)" -v pp99="$(val "$RAD_DIR/pap1.out" p99_ms)" 'BEGIN {
	pap = (p1 + p2) / 2
	printf "ratio wgotp/PAP: %.2f (wgotp %.0f req/s p99 %.2f ms; PAP %.0f req/s p99 %.2f ms; %d/%d wgotp accepted)\n",
		w / pap, w, wp99, pap, pp99, acc, n
	exit (acc == n && w / pap >= 0.8) ? 0 : 1
}'
