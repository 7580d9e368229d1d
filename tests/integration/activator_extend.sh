#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Extend in place (issue 18) over a real wireguard-go tunnel: a new login
# 5 s before the end moves the deadline without touching the peer. A ping
# every 100 ms across the extend loses nothing, the peer's latest
# handshake is the same before and after, the peer leaves at the new
# deadline. A login never shortens; "shorten" is refused for radius and
# allowed for admin; every extend is audited with both deadlines.
# ACT_BACKEND=wg runs it through wg(8).
set -u
. "$top_srcdir/tests/integration/lib/wg.sh"
. "$top_srcdir/tests/integration/lib/activator.sh"
wg_require

. "$top_srcdir/tests/integration/lib/tap.sh"

trap 'wg_cleanup' EXIT
wg_setup || { echo "Bail out! wg_setup failed"; exit 1; }
act_setup "$WG_TMP/act" "$WG_IF_SRV"
sed -i 's/^Durations = .*/Durations = 2s, 10s, 20s, 1h/' "$ACT_CONF"
act_users "$(act_user alice@example.com laptop "$WG_CLI_PUB" "$WG_CLI_CIDR")"
if [ "${ACT_BACKEND:-}" = wg ]; then
	# WgCommand: log every `wg set` that names the peer, then run wg
	WG_REAL=$(command -v wg)
	printf '#!/bin/sh\ncase "$*" in "set "*"%s"*) echo "$*" >>"%s" ;; esac\nexec %s "$@"\n' \
		"$WG_CLI_PUB" "$WG_TMP/wg-set.log" "$WG_REAL" >"$WG_TMP/wg-wrapper"
	chmod 755 "$WG_TMP/wg-wrapper"
	printf 'WgCommand = %s\n' "$WG_TMP/wg-wrapper" >>"$ACT_CONF"
fi
wg_sets() { if [ -f "$WG_TMP/wg-set.log" ]; then wc -l <"$WG_TMP/wg-set.log"; else echo 0; fi; }
act_start || { echo "Bail out! wg-activator did not start"; exit 1; }

handshake() { wg show "$WG_IF_SRV" latest-handshakes | awk -v k="$WG_CLI_PUB" '$1 == k {print $2}'; }
sleep_until() { while [ "$(date +%s%N)" -lt "$1" ]; do sleep 0.02; done; }

exp1=$(act_client activate alice@example.com laptop 10)
ok $? "activate alice/laptop for 10 s"
check "client reaches the server through the tunnel" wg_ping_wait 12
hs1=$(handshake)
check "the peer has a handshake ($hs1)" test "${hs1:-0}" -gt 0

# ping every 100 ms from 2 s before the extend until 2 s after the old end
now_ns=$(date +%s%N)
ext_ns=$(( (exp1 - 5) * 1000000000 ))
if [ "$now_ns" -gt $((ext_ns - 2000000000)) ]; then
	diag "the handshake took long: extending at once"
	ext_ns=$((now_ns + 2000000000))
fi
sleep_until $((ext_ns - 2000000000))
count=$(( (exp1 + 2 - ext_ns / 1000000000 + 2) * 10 ))
ip netns exec "$WG_NS_CLI" ping -n -i 0.1 -c "$count" -W 1 "$WG_SRV_IP" >"$WG_TMP/ping.out" 2>&1 &
ping_pid=$!
sleep_until "$ext_ns"
sets1=$(wg_sets)
exp2=$(act_client activate alice@example.com laptop 10)
ok $? "a new login 5 s before the end extends"
sets2=$(wg_sets)
if [ "${ACT_BACKEND:-}" = wg ]; then
	check "  wg(8) set the peer for the first activation ($sets1 wg set)" test "$sets1" -ge 1
	is "$sets2" "$sets1" "  and not for the extend: the peer was not touched"
fi
check "the deadline moved later ($exp1 -> $exp2)" test "${exp2:-0}" -gt "$exp1"
wait "$ping_pid"
stats=$(grep 'packets transmitted' "$WG_TMP/ping.out")
diag "ping across the extend: $stats"
sent=$(echo "$stats" | awk '{print $1}')
recv=$(echo "$stats" | awk '{print $4}')
check "ping sent $count packets" test "${sent:-0}" -eq "$count"
is "${recv:-0}" "$count" "no packet was lost across the extend"
hs2=$(handshake)
is "$hs2" "$hs1" "the peer's latest handshake did not reset"
check "the peer is still there after the old end" wg_srv_has_peer "$WG_CLI_PUB"
grep 'event=extend' "$ACT_LOG" | tail -1 | sed 's/^/# /'
old_iso=$(date -u -d "@$exp1" +%Y-%m-%dT%H:%M:%SZ)
new_iso=$(date -u -d "@$exp2" +%Y-%m-%dT%H:%M:%SZ)
check "the audit says event=extend with the old and the new deadline" \
	grep -q "event=extend .*reason=extended .*old_expires=$old_iso expires=$new_iso" "$ACT_LOG"

exp3=$(act_client activate alice@example.com laptop 2 radius)
is "$exp3" "$exp2" "a shorter login does not shorten"
check "  audited as unchanged" grep -q 'event=extend origin=radius .*reason=unchanged' "$ACT_LOG"
out=$(act_client activate alice@example.com laptop 2 radius shorten 2>&1)
check "shorten from origin radius is refused ($out)" eval 'case "$out" in EACCES*"admin and portal"*) true ;; *) false ;; esac'
is "$(act_client list | awk '{print $5}')" "$exp2" "  and changes nothing"

sleep_until $(( (exp2 + 1) * 1000000000 ))
check "the peer leaves at the new deadline" not wg_srv_has_peer "$WG_CLI_PUB"
check "client cannot reach the server after expiry" not wg_ping

exp4=$(act_client activate alice@example.com laptop 3600)
ok $? "a new 1 h session"
t0=$(date +%s)
exp5=$(act_client activate alice@example.com laptop 10 admin shorten)
ok $? "shorten from origin admin is allowed"
check "  the deadline is earlier ($exp4 -> $exp5)" test "${exp5:-0}" -lt "$exp4" -a "${exp5:-0}" -ge $((t0 + 10))
check "  audited as shortened" grep -q 'event=extend origin=admin .*reason=shortened' "$ACT_LOG"
check "  the peer stays" wg_srv_has_peer "$WG_CLI_PUB"

act_stop
ok $? "SIGTERM stops the daemon cleanly"
done_testing
