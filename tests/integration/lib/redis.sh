# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=sh
#
# A real redis-server for the tests: a private directory, a free loopback
# port (or an address given), a unix socket, an ACL user with a password
# in a file, the default user disabled, AOF on (a restart keeps the data).
#
#   . "$top_srcdir/tests/integration/lib/redis.sh"
#   redis_require            # or "1..0 # SKIP ..." and exit
#   redis_start DIR          # REDIS_PORT REDIS_SOCK REDIS_USER REDIS_PWFILE REDIS_PID
#   redis_cli CMD...         # as the ACL user
#   redis_stop / redis_start_again   # SIGTERM and wait / same port, same data
#
# REDIS_NS: run the server in this network namespace (ip netns exec);
# REDIS_BIND: the address to listen on (default 127.0.0.1).
# The caller's EXIT trap must call redis_stop.

REDIS_PID=
REDIS_USER=wgotp

redis_require() {
	for t in redis-server redis-cli; do
		if ! command -v "$t" >/dev/null 2>&1; then
			echo "1..0 # SKIP $t not installed (Debian: redis-server, redis-tools)"
			exit 0
		fi
	done
}

redis_free_port() {
	for _i in 1 2 3 4 5 6 7 8 9 10; do
		p=$(( 30000 + $(od -An -N2 -tu2 /dev/urandom) % 20000 ))
		if ! ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

redis_start() {
	REDIS_DIR=$1
	mkdir -p "$REDIS_DIR"
	REDIS_SOCK=$REDIS_DIR/redis.sock
	REDIS_PWFILE=$REDIS_DIR/redis.password
	(umask 077; od -An -tx1 -N16 /dev/urandom | tr -d ' \n' > "$REDIS_PWFILE")
	# A port found free may be taken before redis-server binds it (by an
	# outgoing connection of a test running beside this one): try another.
	_fixed=${REDIS_PORT:-}
	for _try in 1 2 3 4 5; do
		REDIS_PORT=${_fixed:-$(redis_free_port)} || return 1
		redis_write_conf
		rm -f "$REDIS_DIR/redis.log"
		redis_start_again && return 0
		[ -z "$_fixed" ] && grep -q "Address already in use" "$REDIS_DIR/redis.log" || return 1
		echo "# port $REDIS_PORT was taken meanwhile; another"
	done
	return 1
}

redis_write_conf() {
	cat > "$REDIS_DIR/redis.conf" <<EOF2
bind ${REDIS_BIND:-127.0.0.1}
port $REDIS_PORT
unixsocket $REDIS_SOCK
unixsocketperm 700
dir $REDIS_DIR
save ""
appendonly yes
appendfsync always
daemonize no
logfile $REDIS_DIR/redis.log
protected-mode no
user default off
user $REDIS_USER on >$(cat "$REDIS_PWFILE") ~* &* +@all
EOF2
	chmod 600 "$REDIS_DIR/redis.conf"
}

redis_start_again() {
	if [ -n "${REDIS_NS:-}" ]; then
		ip netns exec "$REDIS_NS" redis-server "$REDIS_DIR/redis.conf" &
	else
		redis-server "$REDIS_DIR/redis.conf" &
	fi
	REDIS_PID=$!
	for _i in $(seq 1 100); do
		if [ "$(redis_cli PING 2>/dev/null)" = PONG ]; then
			return 0
		fi
		kill -0 "$REDIS_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "# redis-server did not start:"
	sed 's/^/# /' "$REDIS_DIR/redis.log" 2>/dev/null | tail -n 20
	return 1
}

redis_cli() {
	REDISCLI_AUTH=$(cat "$REDIS_PWFILE") redis-cli -s "$REDIS_SOCK" --user "$REDIS_USER" --no-auth-warning "$@"
}

redis_stop() {
	if [ -n "${REDIS_PID:-}" ]; then
		kill "$REDIS_PID" 2>/dev/null
		wait "$REDIS_PID" 2>/dev/null
		REDIS_PID=
	fi
	return 0
}
