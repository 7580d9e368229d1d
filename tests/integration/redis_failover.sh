#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Redis Sentinel failover under a RADIUS load (issue 19). A primary, two
# replicas and three sentinels, all on free loopback ports; freeradius
# with rlm_wgotp on Backend = redis through the sentinels
# (RedisSentinels, RedisMasterName) and RedisWaitReplicas = 1; radload
# sending fresh TOTP logins in chunks all along. Each replica reaches the
# primary through a relay of its own (the "network link"), so the test can
# cut the replication stream while the clients still reach the primary.
#
# The scenario: the primary loses its replicas (both relays frozen: a
# partition), keeps answering the RADIUS servers for a while, and then
# crashes (kill -9, and the links with it). Logins must
#   - fail closed while there is no primary (a fresh valid code: Reject);
#   - never be accepted on a write the replicas did not get: every code
#     accepted before the failover is tried again after it (radload -f),
#     and 0 of them is accepted;
#   - resume after the promotion with no restart of freeradius.
# FAILOVER_WAIT=0 leaves RedisWaitReplicas out (the behaviour before it
# existed): the codes and activations the partition let through are lost
# in the failover, the codes are accepted again, and this test fails.
. "$top_srcdir/tests/integration/lib/radius.sh"
. "$top_srcdir/tests/integration/lib/redis.sh"
rad_require
redis_require
grep -q '^#define HAVE_REDIS 1' "$top_builddir/config.h" || { echo "1..0 # SKIP built without hiredis"; exit 0; }
command -v redis-sentinel >/dev/null 2>&1 || { echo "1..0 # SKIP redis-sentinel not installed (Debian: redis-sentinel)"; exit 0; }
command -v python3 >/dev/null 2>&1 || { echo "1..0 # SKIP python3 not installed"; exit 0; }
RADLOAD=${RADLOAD:-$top_builddir/tests/bench/radload}
[ -x "$RADLOAD" ] || { echo "1..0 # SKIP $RADLOAD not built"; exit 0; }

T=$(mktemp -d "${TMPDIR:-/tmp}/wgotp-failover.XXXXXX")
PIDS=
LOAD_PID=
cleanup() {
	[ -n "$LOAD_PID" ] && { touch "$T/stop"; wait "$LOAD_PID" 2>/dev/null; }
	rad_stop
	for p in $PIDS; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	[ -n "${RAD_DIR:-}" ] && rm -rf "$RAD_DIR"
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
MASTER=wgotpm
STREAM=wgotp:activations

rcli() {	# rcli PORT CMD...: as the ACL user, with the primary's password
	REDISCLI_AUTH=$(cat "$PWFILE") redis-cli -h 127.0.0.1 -p "$1" --user "$REDIS_USER" --no-auth-warning "${@:2}"
}
scli() { redis-cli -h 127.0.0.1 -p "$1" "${@:2}"; }	# a sentinel
master_port() { scli "$S1_PORT" SENTINEL get-master-addr-by-name "$MASTER" 2>/dev/null | sed -n 2p; }

# The primary, then two replicas that take its password and follow it
# through their relays.
redis_start "$T/p" || { echo "Bail out! primary did not start"; exit 1; }
P_PORT=$REDIS_PORT P_PID=$REDIS_PID PWFILE=$REDIS_PWFILE
PIDS="$PIDS $P_PID"
REDIS_PID=

cat > "$T/relay.py" <<'EOF2'
import socket, sys, threading
lport, dport = int(sys.argv[1]), int(sys.argv[2])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", lport))
srv.listen(4)
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
while True:
    c, _ = srv.accept()
    u = socket.create_connection(("127.0.0.1", dport))
    threading.Thread(target=pipe, args=(c, u), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c), daemon=True).start()
EOF2
start_replica() {	# start_replica NAME: R_PORT RELAY_PID
	REDIS_PORT=
	redis_start "$T/$1" || { echo "Bail out! replica $1 did not start"; exit 1; }
	R_PORT=$REDIS_PORT
	PIDS="$PIDS $REDIS_PID"
	REDIS_PID=
	relay_port=$(redis_free_port) || { echo "Bail out! no port"; exit 1; }
	python3 "$T/relay.py" "$relay_port" "$P_PORT" &
	RELAY_PID=$!
	PIDS="$PIDS $RELAY_PID"
	pw=$(cat "$PWFILE")
	for _i in $(seq 1 50); do ss -Hltn "sport = :$relay_port" | grep -q . && break; sleep 0.1; done
	redis_cli ACL SETUSER "$REDIS_USER" ">$pw" >/dev/null &&
	redis_cli CONFIG SET masteruser "$REDIS_USER" >/dev/null &&
	redis_cli CONFIG SET masterauth "$pw" >/dev/null &&
	redis_cli REPLICAOF 127.0.0.1 "$relay_port" >/dev/null || { echo "Bail out! REPLICAOF"; exit 1; }
}
start_replica r1
R1_PORT=$R_PORT RELAY1_PID=$RELAY_PID
start_replica r2
R2_PORT=$R_PORT RELAY2_PID=$RELAY_PID
for _i in $(seq 1 100); do
	[ "$(rcli "$P_PORT" INFO replication | grep -c 'state=online')" = 2 ] && break
	sleep 0.1
done
is "$(rcli "$P_PORT" INFO replication | grep -c 'state=online')" 2 "both replicas follow the primary"

# Three sentinels, quorum 2, the primary down after 1 s.
S_PORTS=
for i in 1 2 3; do
	mkdir -p "$T/s$i"
	port=$(redis_free_port) || { echo "Bail out! no port"; exit 1; }
	cat > "$T/s$i/sentinel.conf" <<EOF2
bind 127.0.0.1
port $port
daemonize no
dir $T/s$i
logfile $T/s$i/sentinel.log
sentinel monitor $MASTER 127.0.0.1 $P_PORT 2
sentinel auth-user $MASTER $REDIS_USER
sentinel auth-pass $MASTER $(cat "$PWFILE")
sentinel down-after-milliseconds $MASTER 1000
sentinel failover-timeout $MASTER 10000
sentinel parallel-syncs $MASTER 2
EOF2
	chmod 600 "$T/s$i/sentinel.conf"
	redis-sentinel "$T/s$i/sentinel.conf" &
	PIDS="$PIDS $!"
	S_PORTS="$S_PORTS${S_PORTS:+, }127.0.0.1:$port"
	eval "S${i}_PORT=$port"
done
# Every sentinel knows the two replicas and the two other sentinels.
ready=1
for _i in $(seq 1 150); do
	ready=0
	for p in $S1_PORT $S2_PORT $S3_PORT; do
		m=$(scli "$p" SENTINEL master "$MASTER" 2>/dev/null | tr '\n' ' ')
		case $m in *" num-slaves 2 num-other-sentinels 2 "*) ;; *) ready=1 ;; esac
	done
	[ $ready = 0 ] && break
	sleep 0.1
done
ok $ready "three sentinels see the primary, two replicas and each other"
[ $ready = 0 ] || scli "$S1_PORT" SENTINEL master "$MASTER" | paste - - | sed 's/^/# /'
is "$(master_port)" "$P_PORT" "the sentinels name the primary"

# freeradius through the sentinels.
N=20000
RAD_ACTIVATE=yes
RAD_FR_MODE=-f
RAD_THREADS=4
rad_init
trap cleanup EXIT
sed -i -e 's/^Backend = sqlite$/Backend = redis/' "$RAD_CONF"
cat >> "$RAD_CONF" <<EOF2
[Store]
RedisSentinels = $S_PORTS
RedisMasterName = $MASTER
RedisUser = $REDIS_USER
RedisPasswordFile = $PWFILE
RedisTimeout = 500
RedisConnectTimeout = 300
$([ "${FAILOVER_WAIT:-1}" = 0 ] || echo "RedisWaitReplicas = ${FAILOVER_WAIT:-1}")
[Activator]
Mode = redis
Stream = $STREAM
EOF2
python3 "$top_srcdir/tests/bench/totp_users.py" users "$N" "$RAD_USERS" "$T/secrets.tsv" ||
	{ echo "Bail out! users"; exit 1; }
# a WireGuard device each, so that an Accept queues an activation
python3 - "$RAD_USERS" <<'EOF2' || { echo "Bail out! devices"; exit 1; }
import base64, json, os, sys
d = json.load(open(sys.argv[1]))
for i, u in enumerate(d["users"].values()):
    u["devices"] = [{"name": "laptop", "public_key": base64.b64encode(os.urandom(32)).decode(),
                     "allowed_ips": ["10.%d.%d.%d/32" % (100 + (i >> 16), (i >> 8) & 255, i & 255)]}]
json.dump(d, open(sys.argv[1] + ".tmp", "w"))
os.chmod(sys.argv[1] + ".tmp", 0o640)
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
EOF2
rad_start || { echo "Bail out! freeradius did not start"; exit 1; }
FR_PID=$RAD_SERVER_PID

# fresh I COUNT: the codes, now, of users I .. I+COUNT-1 (each used once)
fresh() {
	sed -n "$(($1 + 1)),$(($1 + $2))p" "$T/secrets.tsv" > "$T/fresh.sec"
	python3 "$top_srcdir/tests/bench/totp_users.py" codes "$T/fresh.sec" "$T/fresh.tsv"
}
# login_fresh I: one login of user I with its code: Accept, Reject, none
login_fresh() {
	fresh "$1" 1
	"$RADLOAD" -s "127.0.0.1:$RAD_PORT" -S "$RAD_SECRET" -f "$T/fresh.tsv" -c 1 -t 1500 -o "$T/one.out" -l one >/dev/null
	case $(cut -f3 "$T/one.out") in 2) echo Accept ;; 3) echo Reject ;; *) echo none ;; esac
}
is "$(login_fresh 0)" Accept "a login through the sentinels is accepted"

# The load: chunks of 50 fresh users (users 1000..), 8 in flight, until
# $T/stop exists; chunk K's outcomes in $T/chunk.K, the step its codes
# were made at in $T/chunk.K.step.
load() {
	k=0
	while [ ! -e "$T/stop" ] && [ $((1000 + (k + 1) * 50)) -le "$N" ]; do
		sed -n "$((1001 + k * 50)),$((1000 + (k + 1) * 50))p" "$T/secrets.tsv" > "$T/load.sec"
		echo $(( $(date +%s) / 30 )) > "$T/chunk.$k.step"
		date +%s.%N > "$T/chunk.$k.t"
		python3 "$top_srcdir/tests/bench/totp_users.py" codes "$T/load.sec" "$T/load.tsv"
		"$RADLOAD" -s "127.0.0.1:$RAD_PORT" -S "$RAD_SECRET" -f "$T/load.tsv" -c 8 -t 1000 \
			-o "$T/chunk.$k" -l "chunk$k" >/dev/null 2>&1
		k=$((k + 1))
	done
}
load &
LOAD_PID=$!
sleep 2
accepted() { cat "$T"/chunk.[0-9] "$T"/chunk.[0-9]*[0-9] 2>/dev/null | awk -F'\t' '$3 == 2' | wc -l; }
before=$(accepted)
ok $([ "$before" -gt 0 ]; echo $?) "logins accepted under load before the failover ($before)"

# The partition: the replication links freeze; the primary still serves.
kill -STOP "$RELAY1_PID" "$RELAY2_PID"
sleep 0.3
if [ "${FAILOVER_WAIT:-1}" -gt 0 ]; then
	is "$(login_fresh 90)" Reject "replicas cut off: a fresh code is refused (its step is on no replica)"
fi
sleep 1
# The crash: the primary and the links die.
kill -9 "$P_PID" "$RELAY1_PID" "$RELAY2_PID"
t_kill=$(date +%s.%N)
diag "primary killed"

# Fail closed while there is no primary: a fresh, valid code is refused
# (only counted while the sentinels still name the dead primary, before
# and after the login).
closed=0 tried=0 i=100
while [ "$(master_port)" = "$P_PORT" ] && [ $i -lt 130 ]; do
	got=$(login_fresh $i)
	if [ "$(master_port)" = "$P_PORT" ]; then
		tried=$((tried + 1))
		[ "$got" != Accept ] && closed=$((closed + 1))
	fi
	i=$((i + 1))
	sleep 0.2
done
ok $([ $tried -gt 0 ] && [ $closed = $tried ]; echo $?) \
	"no primary: $closed of $tried fresh logins refused (fail closed)"

# The promotion.
for _i in $(seq 1 300); do
	m=$(master_port)
	[ -n "$m" ] && [ "$m" != "$P_PORT" ] && break
	sleep 0.1
done
t_promo=$(date +%s.%N)
ok $([ "$m" = "$R1_PORT" ] || [ "$m" = "$R2_PORT" ]; echo $?) \
	"a replica is promoted ($(awk -v a="$t_kill" -v b="$t_promo" 'BEGIN { printf "%.1f", b - a }') s after the kill)"

# Logins resume, on the same freeradius.
got=none i=200
for _i in $(seq 1 40); do
	got=$(login_fresh $i)
	[ "$got" = Accept ] && break
	i=$((i + 1))
	sleep 0.25
done
t_back=$(date +%s.%N)
is "$got" Accept "logins resume after the promotion ($(awk -v a="$t_promo" -v b="$t_back" 'BEGIN { printf "%.1f", b - a }') s later)"
check "with no restart of freeradius" kill -0 "$FR_PID"
sleep 1
touch "$T/stop"
wait "$LOAD_PID"
LOAD_PID=
after=$(accepted)
ok $([ "$after" -gt "$before" ]; echo $?) "the load is accepted again after the failover ($before before, $after in all)"

# No activation lost: every user accepted, before or after the failover,
# has an activation on the new primary's stream (looked at before the
# replays, whose Accepts would queue their own).
cat "$T"/chunk.[0-9] "$T"/chunk.[0-9]*[0-9] "$T/one.out" 2>/dev/null |
	awk -F'\t' '$3 == 2 { print $1 }' | sort -u > "$T/accepted.users"
rcli "$m" XRANGE "$STREAM" - + | grep -o '"user":"[^"]*"' | sed 's/"user":"\(.*\)"/\1/' |
	sort -u > "$T/stream.users"
n_acc=$(wc -l < "$T/accepted.users")
lost=$(comm -23 "$T/accepted.users" "$T/stream.users" | wc -l)
ok $([ "$n_acc" -gt 0 ]; echo $?) "accepted users with an activation to find: $n_acc"
is "$lost" 0 "activations lost in the failover: $lost of $n_acc"

# Every code accepted before the failover (the chunks started before the
# kill, among them the ones the partition let through) is tried again;
# only codes still inside their validity window (the step they were made
# at +-1) count.
now_step=$(( $(date +%s) / 30 ))
: > "$T/replay.tsv"
for f in "$T"/chunk.*.step; do
	f=${f%.step}
	[ -f "$f" ] || continue
	[ $((now_step - $(cat "$f.step"))) -le 1 ] || continue
	awk -v a="$(cat "$f.t")" -v b="$t_kill" 'BEGIN { exit !(a < b) }' || continue
	awk -F'\t' '$3 == 2 { print $1 "\t" $2 }' "$f" >> "$T/replay.tsv"
done
replays=$(wc -l < "$T/replay.tsv")
"$RADLOAD" -s "127.0.0.1:$RAD_PORT" -S "$RAD_SECRET" -f "$T/replay.tsv" -c 8 -t 1500 \
	-o "$T/replay.out" -l replay >/dev/null 2>&1
replayed=$(awk -F'\t' '$3 == 2' "$T/replay.out" | wc -l)
ok $([ "$replays" -gt 0 ]; echo $?) "replays tried: $replays codes accepted before the failover"
is "$replayed" 0 "replays accepted after the failover: $replayed of $replays"
if [ "$replayed" != 0 ]; then
	diag "accepted again:"
	awk -F'\t' '$3 == 2 { print "#   " $1 }' "$T/replay.out" | head -n 5
fi

check "freeradius is still the one started" kill -0 "$FR_PID"
done_testing
