#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Activation across hosts: two freeradius servers and Redis in one network
# namespace (the "RADIUS host"), wg-activator with [Activator] Mode = redis
# in the gateway's namespace, reaching Redis over a veth link; a WireGuard
# client in a third. An Accept on either server activates the peer; an
# Accept while wg-activator is dead is applied when it comes back; a
# device this gateway does not serve is left alone; nothing stays pending.
set -u
. "$top_srcdir/tests/integration/lib/wg.sh"
. "$top_srcdir/tests/integration/lib/activator.sh"
. "$top_srcdir/tests/integration/lib/radius.sh"
. "$top_srcdir/tests/integration/lib/redis.sh"
wg_require
rad_require
redis_require
grep -q '^#define HAVE_REDIS 1' "$top_builddir/config.h" || { echo "1..0 # SKIP built without hiredis"; exit 0; }

NS_RAD=
A_PID= B_PID= GW_PID=
cleanup() {
	for p in $A_PID $B_PID $GW_PID; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	redis_stop
	[ -n "${A_DIR:-}" ] && rm -rf "$A_DIR"
	[ -n "${B_DIR:-}" ] && rm -rf "$B_DIR"
	[ -n "$NS_RAD" ] && ip netns del "$NS_RAD" 2>/dev/null
	wg_cleanup
}
trap cleanup EXIT
trap 'exit 1' INT TERM
wg_setup || { echo "Bail out! wg_setup failed"; exit 1; }

# The RADIUS host, linked to the gateway: 192.168.232.1 <-> .2
NS_RAD="wgotp-r-$WG_ID"
ip netns add "$NS_RAD" || { echo "Bail out! netns"; exit 1; }
ip -n "$NS_RAD" link set lo up
ip -n "$NS_RAD" link add veth2 type veth peer name veth3 netns "$WG_NS_SRV"
ip -n "$NS_RAD" addr add 192.168.232.1/30 dev veth2
ip -n "$WG_NS_SRV" addr add 192.168.232.2/30 dev veth3
ip -n "$NS_RAD" link set veth2 up
ip -n "$WG_NS_SRV" link set veth3 up

REDIS_NS=$NS_RAD REDIS_BIND="192.168.232.1 127.0.0.1"
redis_start "$WG_TMP/redis" || { echo "Bail out! redis-server did not start"; exit 1; }

read -r _ BOB <<<"$(wg_keypair)"
read -r _ CAROL <<<"$(wg_keypair)"
read -r _ DAVE <<<"$(wg_keypair)"
S1=JBSWY3DPEHPK3PXP
S2=KRSXG5CTMVRXEZLUKN2XAZLSKNSWG4TF
S3=MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U
S4=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ
STREAM=wgotp:activations
redis_conf() {
	cat <<EOF2
[Store]
RedisHost = $1
RedisPort = $REDIS_PORT
RedisUser = $REDIS_USER
RedisPasswordFile = $REDIS_PWFILE
EOF2
}

# --- the gateway: its own users.json (alice, bob, carol; not dave) -------
act_setup "$WG_TMP/gw" "$WG_IF_SRV"
act_users "$(act_user alice@example.com laptop "$WG_CLI_PUB" "$WG_CLI_CIDR"),
	$(act_user bob@example.com phone "$BOB" 10.231.0.3/32),
	$(act_user carol@example.com desk "$CAROL" 10.231.0.4/32)"
{ redis_conf 192.168.232.1; printf '[Activator]\nMode = redis\nStream = %s\nGateway = gw1\n' "$STREAM"; } >> "$ACT_CONF"
gw_start() {
	ip netns exec "$WG_NS_SRV" "$ACT_BIN" -c "$ACT_CONF" -f >>"$ACT_LOG" 2>&1 &
	GW_PID=$!
	for _i in $(seq 1 200); do
		grep -q "gateway gw1 reads it" "$ACT_LOG" 2>/dev/null && return 0
		kill -0 "$GW_PID" 2>/dev/null || break
		sleep 0.05
	done
	sed 's/^/# /' "$ACT_LOG"
	return 1
}
gw_start || { echo "Bail out! wg-activator did not start"; exit 1; }

# --- two RADIUS servers in the RADIUS namespace -----------------------------
RAD_FR_ENV="ip netns exec $NS_RAD"
rad_send() {	# radclient from inside the RADIUS namespace
	RAD_OUT=$RAD_DIR/last.out
	printf '%s\n' "$2" | ip netns exec "$NS_RAD" radclient -d "$RAD_DIR/raddb" -D /usr/share/freeradius -x -r 1 -t 3 \
		-s "${3:-127.0.0.1:$RAD_PORT}" "$1" "$RAD_SECRET" > "$RAD_OUT" 2>&1
	return 0
}
mk_instance() {
	rad_init
	[ -n "${A_DIR:-}" ] && cp "$A_DIR/wgotp/server.key" "$RAD_DIR/wgotp/server.key"
	sed -i -e 's/^Backend = sqlite$/Backend = redis/' "$RAD_CONF"
	{ redis_conf 127.0.0.1; printf '[Activator]\nMode = redis\nStream = %s\n' "$STREAM"; } >> "$RAD_CONF"
	rad_user_totp alice@example.com "$S1" "$WG_CLI_PUB" 10.231.0.2
	rad_user_totp bob@example.com "$S2" "$BOB" 10.231.0.3
	rad_user_totp carol@example.com "$S3" "$CAROL" 10.231.0.4
	rad_user_totp dave@example.com "$S4" "$DAVE" 10.232.0.5
	rad_start || { echo "Bail out! freeradius did not start"; exit 1; }
}
mk_instance
A_DIR=$RAD_DIR A_PORT=$RAD_PORT A_PID=$RAD_SERVER_PID
RAD_SERVER_PID=
mk_instance
B_DIR=$RAD_DIR B_PORT=$RAD_PORT B_PID=$RAD_SERVER_PID
RAD_SERVER_PID=
trap cleanup EXIT

. "$top_srcdir/tests/integration/lib/tap.sh"
eventually() { local end=$(( $(date +%s) + $1 )); shift; while ! "$@"; do [ "$(date +%s)" -ge "$end" ] && return 1; sleep 0.1; done; }
accept() {	# accept USER SECRET SERVER_PORT
	rad_auth "User-Name = \"$1\", User-Password = \"$(rad_totp "$2")\"" "127.0.0.1:$3"
	[ "$RAD_CODE" = Access-Accept ]
}
pending() { redis_cli XPENDING "$STREAM" gw1 | head -n1; }
echo "1..16"

check "the gateway cannot reach the RADIUS servers' loopback (separate hosts)" \
	not ip netns exec "$WG_NS_SRV" bash -c "echo > /dev/tcp/127.0.0.1/$REDIS_PORT" 2>/dev/null
check "no tunnel before any login" not wg_ping
check "Accept at server A" accept alice@example.com "$S1" "$A_PORT"
check "... activates the peer on the gateway: the tunnel works" wg_ping_wait 15
check "Accept at server B (bob)" accept bob@example.com "$S2" "$B_PORT"
check "... adds bob's peer" eventually 10 wg_srv_has_peer "$BOB"

kill -9 "$GW_PID"; wait "$GW_PID" 2>/dev/null; GW_PID=
check "wg-activator killed; Accept at B for carol meanwhile" accept carol@example.com "$S3" "$B_PORT"
check "... nothing applies it while it is down" not wg_srv_has_peer "$CAROL"
gw_start || { echo "Bail out! wg-activator did not restart"; exit 1; }
check "restarted: carol's activation, queued in Redis, is applied" eventually 10 wg_srv_has_peer "$CAROL"

check "Accept at A for dave, whose device this gateway does not serve" accept dave@example.com "$S4" "$A_PORT"
check "... his peer is not added here" not eventually 2 wg_srv_has_peer "$DAVE"
# Entries forged into the stream (Redis may be shared) go through the
# same check against this gateway's users.json as a control request.
read -r _ ATTACKER <<<"$(wg_keypair)"
ATTACKER_HEX=$(printf '%s' "$ATTACKER" | base64 -d | od -An -tx1 -v | tr -d ' \n')
forged() { redis_cli XADD "$STREAM" '*' req "{\"version\":1,\"op\":\"activate\",\"user\":\"alice@example.com\",\"device\":\"laptop\",\"allowed_ips\":[\"$1\"]}" >/dev/null; }
refusals() { grep -c 'of alice@example.com refused: bad_' "$ACT_LOG"; }
both_refused() { [ "$(refusals)" = 2 ]; }	# counted again at every try
forged "10.231.0.3/32"
forged "10.231.0.2/32\\npublic_key=$ATTACKER_HEX\\nallowed_ip=0.0.0.0/0"
check "forged stream entries (bob's /32; UAPI lines) are refused" eventually 10 both_refused
check "... no peer with the attacker's key" not wg_srv_has_peer "$ATTACKER"
check "... bob's /32 stays on bob's peer" eval 'wg show "$WG_IF_SRV" allowed-ips | grep -F "$BOB" | grep -qw 10.231.0.3/32'
check "... and alice's peer carries only her own" test "$(wg show "$WG_IF_SRV" allowed-ips | grep -F "$WG_CLI_PUB" | cut -f2)" = 10.231.0.2/32
check "every entry is acknowledged (nothing pending for gw1)" eventually 5 test "$(pending)" = 0

if [ "$TAP_FAILED" -ne 0 ]; then
	sed 's/^/# gw: /' "$ACT_LOG" | tail -n 30
fi
[ "$TAP_FAILED" -eq 0 ]
