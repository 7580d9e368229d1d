#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Access-Requests per second and p99 latency of rlm_wgotp (TOTP single
# pass, each request another user with a valid code) with the SQLite store
# and with the Redis store, in the same run, on the same freeradius
# configuration; prints the ratio. Redis is a local redis-server (TCP on
# loopback, ACL user + password, AOF with appendfsync always, as
# tests/integration/lib/redis.sh starts it).
#
#   make -C BUILD/tests bench/radload
#   top_srcdir=... top_builddir=BUILD sh tests/bench/redis_bench.sh [USERS] [INFLIGHT]
#
# Activation is off: this measures the login flow and the store.
set -u
. "$top_srcdir/tests/integration/lib/radius.sh"
. "$top_srcdir/tests/integration/lib/redis.sh"
rad_require
redis_require
N=${1:-20000}
INFLIGHT=${2:-64}
RADLOAD=${RADLOAD:-$top_builddir/tests/bench/radload}
[ -x "$RADLOAD" ] || { echo "build $RADLOAD first (make -C tests bench/radload)" >&2; exit 2; }

RAD_FR_MODE=${RAD_FR_MODE:--f}
RAD_THREADS=${RAD_THREADS:-8}
RAD_ACTIVATE=no
rad_init
trap 'rad_cleanup; redis_stop' EXIT
redis_start "$RAD_DIR/redis" || exit 1
cat >> "$RAD_CONF" <<EOF2
[Store]
RedisHost = 127.0.0.1
RedisPort = $REDIS_PORT
RedisUser = $REDIS_USER
RedisPasswordFile = $REDIS_PWFILE
EOF2

python3 "$top_srcdir/tests/bench/totp_users.py" users "$N" "$RAD_USERS" "$RAD_DIR/secrets.tsv" || exit 1

codes() {	# fresh codes for the current step
	python3 "$top_srcdir/tests/bench/totp_users.py" codes "$RAD_DIR/secrets.tsv" "$RAD_DIR/load.tsv"
}

run() {	# run BACKEND
	sed -i -e "s/^Backend = .*/Backend = $1/" "$RAD_CONF"
	rad_start || exit 1
	codes
	head -n 200 "$RAD_DIR/load.tsv" | sed 's/\t.*/\t000000/' > "$RAD_DIR/warm.tsv"
	"$RADLOAD" -s 127.0.0.1:$RAD_PORT -S "$RAD_SECRET" -f "$RAD_DIR/warm.tsv" -c "$INFLIGHT" -l warmup >/dev/null
	"$RADLOAD" -s 127.0.0.1:$RAD_PORT -S "$RAD_SECRET" -f "$RAD_DIR/load.tsv" -c "$INFLIGHT" -l "$1" |
		tee "$RAD_DIR/$1.out"
	rad_stop
}
run sqlite
redis_cli FLUSHALL >/dev/null
run redis

val() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" "$1"; }
awk -v s="$(val "$RAD_DIR/sqlite.out" rps)" -v r="$(val "$RAD_DIR/redis.out" rps)" \
    -v sp="$(val "$RAD_DIR/sqlite.out" p99_ms)" -v rp="$(val "$RAD_DIR/redis.out" p99_ms)" \
    -v sa="$(val "$RAD_DIR/sqlite.out" accept)" -v ra="$(val "$RAD_DIR/redis.out" accept)" -v n="$N" 'BEGIN {
	printf "ratio redis/sqlite: %.2f (redis %.0f req/s p99 %.2f ms, %d/%d accepted; sqlite %.0f req/s p99 %.2f ms, %d/%d accepted)\n",
		r / s, r, rp, ra, n, s, sp, sa, n
	exit (ra == n && sa == n) ? 0 : 1
}'
