#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# wg-activator does not trust the store for what goes onto the interface.
# Session rows forged straight into the store (the SQLite file is
# group-writable by freerad; Redis may be shared) ask for another user's
# /32, for 0.0.0.0/0, or smuggle UAPI lines ("\npublic_key=ATTACKER\n
# allowed_ip=0.0.0.0/0") into a real device's allowed IPs. Whether the
# peer is missing (re-added at start) or present (SIGHUP), reconcile must
# leave only enrolled keys with their own prefixes on the device, remove
# the forged sessions' peers and delete the rows, and say so in the log
# without repeating the forged text. Run with the UAPI and the wg(8)
# backend over SQLite, and with UAPI over Redis when redis-server is here.
set -u
. "$top_srcdir/tests/integration/lib/wg.sh"
. "$top_srcdir/tests/integration/lib/activator.sh"
. "$top_srcdir/tests/integration/lib/redis.sh"
wg_require
command -v sqlite3 >/dev/null 2>&1 || { echo "1..0 # SKIP sqlite3 not installed"; exit 0; }

. "$top_srcdir/tests/integration/lib/tap.sh"
eventually() { local end=$(( $(date +%s) + $1 )); shift; while ! "$@"; do [ "$(date +%s)" -ge "$end" ] && return 1; sleep 0.1; done; }

cleanup() { [ -n "${ACT_PID:-}" ] && act_kill9; redis_stop; wg_cleanup; }
trap cleanup EXIT
wg_setup || { echo "Bail out! wg_setup failed"; exit 1; }

read -r _ BOB <<<"$(wg_keypair)"
read -r _ CAROL <<<"$(wg_keypair)"
read -r _ ATTACKER <<<"$(wg_keypair)"
ATTACKER_HEX=$(printf '%s' "$ATTACKER" | base64 -d | od -An -tx1 -v | tr -d ' \n')
declare -A ENROLLED=(
	["$WG_CLI_PUB"]=10.231.0.2/32
	["$BOB"]=10.231.0.3/32
	["$CAROL"]=10.231.0.4/32
)
NL=$'\n'

HAVE_REDIS=false
if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 &&
   grep -q '^#define HAVE_REDIS 1' "$top_builddir/config.h"; then
	HAVE_REDIS=true
fi

# Every (peer, prefix) on the server interface is an enrolled device with
# one of its own prefixes.
only_own_prefixes() {
	local key ips ip
	while read -r key ips; do
		[ "$ips" = "(none)" ] && continue
		for ip in $ips; do
			case " ${ENROLLED[$key]:-} " in
			*" $ip "*) ;;
			*) echo "# $key carries $ip"; return 1 ;;
			esac
		done
	done < <(wg show "$WG_IF_SRV" allowed-ips)
	return 0
}
peer_has_ip() { wg show "$WG_IF_SRV" allowed-ips | grep -F "$1" | grep -qw "$2"; }
no_default_route() { ! wg show "$WG_IF_SRV" allowed-ips | grep -qF 0.0.0.0/0; }

# forge USER DEVICE IPS: rewrite the allowed IPs of a stored session.
# row USER DEVICE: is the session still stored?
forge() {
	local v
	case $STORE in
	sqlite)
		sqlite3 -cmd '.timeout 5000' "$ACT_DIR/state.db" \
			"UPDATE sessions SET allowed_ips = '$3' WHERE user = '$1' AND device = '$2';" ;;
	redis)
		v=$(redis_cli HGET wgotp:s "$1$NL$2") || return 1
		v=$(printf '%s\n' "$v" | awk -v ips="$3" 'NR == 5 { $0 = ips } { print }')
		redis_cli HSET wgotp:s "$1$NL$2" "$v" >/dev/null ;;
	esac
}
row() {
	case $STORE in
	sqlite)
		test "$(sqlite3 -cmd '.timeout 5000' "$ACT_DIR/state.db" \
			"SELECT count(*) FROM sessions WHERE user = '$1' AND device = '$2';")" = 1 ;;
	redis)
		test "$(redis_cli HEXISTS wgotp:s "$1$NL$2")" = 1 ;;
	esac
}
reconciled() { test "$(grep -c 'reconcile: .* session(s)' "$ACT_LOG")" -ge "$1"; }

# scenario NAME STORE BACKEND
scenario() {
	local name=$1 what
	STORE=$2
	ACT_BACKEND=$3
	for k in $(wg show "$WG_IF_SRV" peers); do wg set "$WG_IF_SRV" peer "$k" remove; done
	act_setup "$WG_TMP/$name" "$WG_IF_SRV"
	if [ "$STORE" = redis ]; then
		printf '[Store]\nBackend = redis\nRedisHost = 127.0.0.1\nRedisPort = %s\nRedisUser = %s\nRedisPasswordFile = %s\n' \
			"$REDIS_PORT" "$REDIS_USER" "$REDIS_PWFILE" >>"$ACT_CONF"
	fi
	act_users "$(act_user alice@example.com laptop "$WG_CLI_PUB" 10.231.0.2/32),
		$(act_user bob@example.com phone "$BOB" 10.231.0.3/32),
		$(act_user carol@example.com desk "$CAROL" 10.231.0.4/32)"
	act_start || { echo "Bail out! $name: wg-activator did not start"; exit 1; }
	for u in "alice@example.com laptop" "bob@example.com phone" "carol@example.com desk"; do
		act_client activate $u 3600 >/dev/null || { echo "Bail out! $name: activate $u"; exit 1; }
	done

	# 1. Forged while the daemon is down, the peers gone: the start-up
	# reconcile would re-add them from the rows.
	act_kill9
	ACT_PID=
	if [ "$STORE" = sqlite ] && [ "$ACT_BACKEND" = uapi ]; then
		what="UAPI lines after its prefix"
		forge alice@example.com laptop "10.231.0.2/32${NL}public_key=$ATTACKER_HEX${NL}allowed_ip=0.0.0.0/0"
	else
		what="0.0.0.0/0 beside its prefix"
		forge alice@example.com laptop "10.231.0.2/32,0.0.0.0/0"
	fi
	ok $? "$name: alice's stored session forged: $what"
	forge bob@example.com phone 10.231.0.2/32
	ok $? "$name: bob's stored session forged: alice's /32"
	for k in "$WG_CLI_PUB" "$BOB" "$CAROL"; do wg set "$WG_IF_SRV" peer "$k" remove; done
	act_start || { echo "Bail out! $name: restart failed"; exit 1; }
	check "$name: the start-up reconcile ran" eventually 5 reconciled 1
	check "$name: no peer with the attacker's key" not wg_srv_has_peer "$ATTACKER"
	check "$name: no 0.0.0.0/0 on the interface" no_default_route
	check "$name: every prefix on the interface is its own device's" only_own_prefixes
	check "$name: alice's forged session got no peer" not wg_srv_has_peer "$WG_CLI_PUB"
	check "$name: bob's forged session got no peer" not wg_srv_has_peer "$BOB"
	check "$name: carol's untouched session got her peer back" peer_has_ip "$CAROL" 10.231.0.4/32
	check "$name: the forged rows are deleted" eval 'not row alice@example.com laptop && not row bob@example.com phone'
	check "$name: carol's row stays" row carol@example.com desk
	check "$name: the log says why" grep -q 'a stored session is not applied and ends: .*bob@example.com' "$ACT_LOG"
	check "$name: ... and audits it" grep -q 'event=expire .*result=accept reason=refused' "$ACT_LOG"
	check "$name: ... without repeating the forged text" not grep -q 'public_key=' "$ACT_LOG"

	# 2. Forged while the daemon runs and the peer is on the interface:
	# a managed peer without a valid session goes.
	act_client activate bob@example.com phone 3600 >/dev/null
	ok $? "$name: bob activates again"
	check "$name: ... his peer is back with his /32" peer_has_ip "$BOB" 10.231.0.3/32
	forge bob@example.com phone 10.231.0.2/32
	n=$(grep -c 'reconcile: .* session(s)' "$ACT_LOG")
	kill -HUP "$ACT_PID"
	check "$name: SIGHUP reconciles" eventually 5 reconciled $((n + 1))
	check "$name: the present peer of the forged session is removed" not wg_srv_has_peer "$BOB"
	check "$name: ... and its row deleted" not row bob@example.com phone
	check "$name: every prefix on the interface is still its own device's" only_own_prefixes

	act_client activate alice@example.com laptop 3600 >/dev/null
	ok $? "$name: alice activates again"
	check "$name: ... with her own /32" peer_has_ip "$WG_CLI_PUB" 10.231.0.2/32
	if [ "$name" = sqlite-uapi ]; then
		check "$name: and the tunnel works" wg_ping_wait 12
	fi
	act_stop
	ACT_PID=
}

scenario sqlite-uapi sqlite uapi
scenario sqlite-wg sqlite wg
if $HAVE_REDIS; then
	redis_start "$WG_TMP/redis" || { echo "Bail out! redis-server did not start"; exit 1; }
	scenario redis-uapi redis uapi
else
	skip "redis-uapi: redis-server or hiredis missing"
fi

if [ "$TAP_FAILED" -ne 0 ]; then
	sed 's/^/# act: /' "$ACT_LOG" | tail -n 30
fi
done_testing
