#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The Redis store against PAP, with appendfsync always and everysec, and
# two freeradius servers on one Redis against one (issue 19). Prints:
#
#   ratio redis/PAP: 0.NN (...)             appendfsync always
#   ratio redis-everysec/PAP: 0.NN (...)    appendfsync everysec
#   ratio two-servers/one: N.NN (...)       everysec, one radload per server
#   cpu PHASE: freeradius U us/req, redis-server R us/req
#   projection: N servers on N machines ...
#
#   make -C BUILD/tests bench/radload
#   top_srcdir=$PWD top_builddir=BUILD sh tests/bench/ha_bench.sh [USERS] [INFLIGHT]
#
# One freeradius (8 threads, -f, activation off) with a PAP baseline
# virtual server (tests/bench/rlm_bench.sh) and the wgotp TOTP single pass
# on Backend = redis: a local redis-server over TCP on loopback, ACL user
# and password, AOF on (tests/integration/lib/redis.sh). USERS distinct
# users (default 100,000) with a valid code each; every wgotp phase starts
# on an empty Redis (FLUSHALL), so each code is accepted once per phase.
# PAP runs before and after; the ratios are against their mean.
#
# The two-server phase starts a second freeradius from a copy of the raddb
# on other ports (same wgotp.conf, same users.json, same Redis) and runs
# one radload per server at once, each on its own half of the users.
#
# CPU per request: utime + stime of each freeradius and of redis-server
# from /proc/PID/stat, before and after the phase, over the requests the
# phase answered. The projection takes the one-server everysec phase:
# a server machine like this one (NCPU cores) answers NCPU / fr_cpu
# requests a second, one redis-server (one thread) 1 / redis_cpu; N
# servers reach min(N x the former, the latter).
#
# BENCH_PERF=/tmp/perf.data records freeradius and redis-server (perf
# record -g) during the one-server everysec phase
# (perf report -i /tmp/perf.data --no-children --sort comm,dso).
set -u
. "$top_srcdir/tests/integration/lib/radius.sh"
. "$top_srcdir/tests/integration/lib/redis.sh"
rad_require
redis_require
N=${1:-100000}
INFLIGHT=${2:-64}
PAP_REPEAT=${PAP_REPEAT:-3}
RADLOAD=${RADLOAD:-$top_builddir/tests/bench/radload}
[ -x "$RADLOAD" ] || { echo "build $RADLOAD first (make -C tests bench/radload)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 needed" >&2; exit 2; }

RAD_FR_MODE=${RAD_FR_MODE:--f}
RAD_THREADS=${RAD_THREADS:-8}
RAD_ACTIVATE=no
rad_init
FR2_PID=
cleanup() {
	if [ -n "$FR2_PID" ]; then
		kill "$FR2_PID" 2>/dev/null
		wait "$FR2_PID" 2>/dev/null
	fi
	rad_cleanup
	redis_stop
}
trap cleanup EXIT
rad_enable_pap_baseline
redis_start "$RAD_DIR/redis" || exit 1
sed -i -e "s/^Backend = .*/Backend = redis/" "$RAD_CONF"
cat >> "$RAD_CONF" <<EOF2
[Store]
RedisHost = 127.0.0.1
RedisPort = $REDIS_PORT
RedisUser = $REDIS_USER
RedisPasswordFile = $REDIS_PWFILE
EOF2
python3 "$top_srcdir/tests/bench/totp_users.py" users "$N" "$RAD_USERS" "$RAD_DIR/secrets.tsv" || exit 1
rad_start || exit 1

# The second server: the same raddb on other ports, its own run and log
# directories. Its PAP site goes: the baseline is server one's.
FR2_PORT=$(rad_free_port) || { echo "no free port" >&2; exit 1; }
cp -a "$RAD_DIR/raddb" "$RAD_DIR/raddb2"
rm -f "$RAD_DIR/raddb2/sites-enabled/pap"
mkdir -p "$RAD_DIR/run2" "$RAD_DIR/log2"
sed -i -e "s|^run_dir = .*|run_dir = $RAD_DIR/run2|" -e "s|^logdir = .*|logdir = $RAD_DIR/log2|" \
	"$RAD_DIR/raddb2/radiusd.conf"
sed -i -e "s/port = $RAD_PORT\$/port = $FR2_PORT/" -e "s/port = $RAD_ACCT_PORT\$/port = $((FR2_PORT + 1))/" \
	"$RAD_DIR/raddb2/sites-enabled/wgotp"

cpu_of() {	# utime + stime of PID, in clock ticks
	awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}
TCK=$(getconf CLK_TCK)
NCPU=$(nproc)

codes() {
	python3 "$top_srcdir/tests/bench/totp_users.py" codes "$RAD_DIR/secrets.tsv" "$RAD_DIR/wgotp.tsv" "$RAD_DIR/pap.tsv"
}
load() {	# load PORT FILE LABEL
	"$RADLOAD" -s "127.0.0.1:$1" -S "$RAD_SECRET" -f "$2" -c "$INFLIGHT" -l "$3"
}
val() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" "$1"; }

# cpu PHASE REQUESTS FR_BEFORE REDIS_BEFORE: print and keep the CPU per request
cpu_report() {
	fr_now=$(cpu_of "$RAD_SERVER_PID")
	[ -n "$FR2_PID" ] && fr_now=$((fr_now + $(cpu_of "$FR2_PID")))
	rd_now=$(cpu_of "$REDIS_PID")
	awk -v p="$1" -v n="$2" -v f=$((fr_now - $3)) -v r=$((rd_now - $4)) -v t="$TCK" 'BEGIN {
		printf "cpu %s: freeradius %.1f us/req, redis-server %.1f us/req (%d requests)\n",
			p, f * 1e6 / t / n, r * 1e6 / t / n, n
	}' | tee "$RAD_DIR/cpu-$1.out"
}

# wgotp PHASE: one server, Redis emptied first
wgotp() {
	redis_cli FLUSHALL >/dev/null
	codes
	f0=$(cpu_of "$RAD_SERVER_PID") r0=$(cpu_of "$REDIS_PID")
	load "$RAD_PORT" "$RAD_DIR/wgotp.tsv" "$1" | tee "$RAD_DIR/$1.out"
	cpu_report "$1" "$(val "$RAD_DIR/$1.out" sent)" "$f0" "$r0"
}

codes
head -n 200 "$RAD_DIR/pap.tsv" > "$RAD_DIR/warm.tsv"
load $((RAD_PORT + 3)) "$RAD_DIR/warm.tsv" warmup >/dev/null
for _i in $(seq 1 "$PAP_REPEAT"); do cat "$RAD_DIR/pap.tsv"; done > "$RAD_DIR/pap-long.tsv"
head -n 200 "$RAD_DIR/wgotp.tsv" > "$RAD_DIR/warm.tsv"
load "$RAD_PORT" "$RAD_DIR/warm.tsv" warmup >/dev/null

f0=$(cpu_of "$RAD_SERVER_PID") r0=$(cpu_of "$REDIS_PID")
load $((RAD_PORT + 3)) "$RAD_DIR/pap-long.tsv" pap1 | tee "$RAD_DIR/pap1.out"
cpu_report pap "$(val "$RAD_DIR/pap1.out" sent)" "$f0" "$r0"

redis_cli CONFIG SET appendfsync always >/dev/null
wgotp redis-always
redis_cli CONFIG SET appendfsync everysec >/dev/null
perf_pid=
if [ -n "${BENCH_PERF:-}" ]; then
	perf record ${BENCH_PERF_ARGS:--g} -o "$BENCH_PERF" -p "$RAD_SERVER_PID,$REDIS_PID" >/dev/null 2>&1 &
	perf_pid=$!
	sleep 0.5
fi
wgotp redis-everysec
if [ -n "$perf_pid" ]; then
	kill -INT "$perf_pid"
	wait "$perf_pid"
fi
load $((RAD_PORT + 3)) "$RAD_DIR/pap-long.tsv" pap2 | tee "$RAD_DIR/pap2.out"

# Two servers, everysec, one radload each on half the users, at once.
RAD_LOG2=$RAD_DIR/radiusd2.log
/usr/sbin/freeradius -f -d "$RAD_DIR/raddb2" -n radiusd -l "$RAD_LOG2" > "$RAD_LOG2.stdout" 2>&1 &
FR2_PID=$!
for _i in $(seq 1 100); do
	grep -q 'Ready to process requests' "$RAD_LOG2" "$RAD_LOG2.stdout" 2>/dev/null && break
	kill -0 "$FR2_PID" 2>/dev/null || { echo "second freeradius exited:" >&2; tail "$RAD_LOG2" "$RAD_LOG2.stdout" >&2; exit 1; }
	sleep 0.1
done
redis_cli FLUSHALL >/dev/null
codes
half=$(( (N + 1) / 2 ))
head -n "$half" "$RAD_DIR/wgotp.tsv" > "$RAD_DIR/s1.tsv"
tail -n +$((half + 1)) "$RAD_DIR/wgotp.tsv" > "$RAD_DIR/s2.tsv"
head -n 200 "$RAD_DIR/pap.tsv" | sed 's/\t.*/\t000000/' > "$RAD_DIR/warm2.tsv"
load "$FR2_PORT" "$RAD_DIR/warm2.tsv" warmup >/dev/null
f0=$(( $(cpu_of "$RAD_SERVER_PID") + $(cpu_of "$FR2_PID") )) r0=$(cpu_of "$REDIS_PID")
load "$RAD_PORT" "$RAD_DIR/s1.tsv" server1 > "$RAD_DIR/server1.out" &
l1=$!
load "$FR2_PORT" "$RAD_DIR/s2.tsv" server2 > "$RAD_DIR/server2.out" &
l2=$!
wait "$l1" "$l2"
cat "$RAD_DIR/server1.out" "$RAD_DIR/server2.out"
cpu_report two-servers "$N" "$f0" "$r0"

awk -v p1="$(val "$RAD_DIR/pap1.out" rps)" -v p2="$(val "$RAD_DIR/pap2.out" rps)" \
    -v pp99="$(val "$RAD_DIR/pap1.out" p99_ms)" \
    -v a="$(val "$RAD_DIR/redis-always.out" rps)" -v ap99="$(val "$RAD_DIR/redis-always.out" p99_ms)" \
    -v aacc="$(val "$RAD_DIR/redis-always.out" accept)" \
    -v e="$(val "$RAD_DIR/redis-everysec.out" rps)" -v ep99="$(val "$RAD_DIR/redis-everysec.out" p99_ms)" \
    -v eacc="$(val "$RAD_DIR/redis-everysec.out" accept)" \
    -v s1="$(val "$RAD_DIR/server1.out" rps)" -v s1s="$(val "$RAD_DIR/server1.out" secs)" \
    -v s1p99="$(val "$RAD_DIR/server1.out" p99_ms)" -v s1a="$(val "$RAD_DIR/server1.out" accept)" \
    -v s2="$(val "$RAD_DIR/server2.out" rps)" -v s2s="$(val "$RAD_DIR/server2.out" secs)" \
    -v s2p99="$(val "$RAD_DIR/server2.out" p99_ms)" -v s2a="$(val "$RAD_DIR/server2.out" accept)" \
    -v fr1="$(sed -n 's/.*freeradius \([0-9.]*\) us.*/\1/p' "$RAD_DIR/cpu-redis-everysec.out")" \
    -v rd1="$(sed -n 's/.*redis-server \([0-9.]*\) us.*/\1/p' "$RAD_DIR/cpu-redis-everysec.out")" \
    -v ncpu="$NCPU" -v n="$N" 'BEGIN {
	pap = (p1 + p2) / 2
	printf "ratio redis/PAP: %.2f (redis appendfsync always %.0f req/s p99 %.2f ms, %d/%d accepted; PAP %.0f req/s p99 %.2f ms)\n",
		a / pap, a, ap99, aacc, n, pap, pp99
	printf "ratio redis-everysec/PAP: %.2f (redis appendfsync everysec %.0f req/s p99 %.2f ms, %d/%d accepted; PAP %.0f req/s)\n",
		e / pap, e, ep99, eacc, n, pap
	# aggregate: all the requests over the longer of the two runs
	secs = s1s > s2s ? s1s : s2s
	agg = (s1 * s1s + s2 * s2s) / secs
	printf "ratio two-servers/one: %.2f (server 1 %.0f req/s p99 %.2f ms, server 2 %.0f req/s p99 %.2f ms, aggregate %.0f req/s, %d/%d accepted; one server everysec %.0f req/s; both servers, both radloads and redis on the same %d cores)\n",
		agg / e, s1, s1p99, s2, s2p99, agg, s1a + s2a, n, e, ncpu
	if (fr1 > 0 && rd1 > 0) {
		srv = ncpu * 1e6 / fr1
		rmax = 1e6 / rd1
		printf "projection (everysec, from %.1f us freeradius + %.1f us redis-server CPU per request): one %d-core server machine %.0f req/s, one redis-server thread %.0f req/s;", fr1, rd1, ncpu, srv, rmax
		for (k = 1; k <= 8; k *= 2)
			printf " N=%d %.0f req/s;", k, (k * srv < rmax ? k * srv : rmax)
		printf " Redis saturates at N=%.1f\n", rmax / srv
	}
	exit (aacc == n && eacc == n && s1a + s2a == n) ? 0 : 1
}'
