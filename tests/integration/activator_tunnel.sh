#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# wg-activator over a real tunnel: a server namespace whose wireguard-go
# interface the daemon manages, a client namespace with its own peer. The
# client cannot reach the server before activation, can after, cannot
# after deactivation nor after expiry. ACT_BACKEND=wg runs it through wg(8).
set -u
. "$top_srcdir/tests/integration/lib/wg.sh"
. "$top_srcdir/tests/integration/lib/activator.sh"
wg_require

. "$top_srcdir/tests/integration/lib/tap.sh"

trap 'wg_cleanup' EXIT
wg_setup || { echo "Bail out! wg_setup failed"; exit 1; }
act_setup "$WG_TMP/act" "$WG_IF_SRV"
act_users "$(act_user alice@example.com laptop "$WG_CLI_PUB" "$WG_CLI_CIDR")"
act_start || { echo "Bail out! wg-activator did not start"; exit 1; }

backend=$(act_client ping | cut -d' ' -f2)
check "backend is ${ACT_BACKEND:-uapi} (got $backend)" test "$backend" = "${ACT_BACKEND:-uapi}"
check "no peer before activation" not wg_srv_has_peer "$WG_CLI_PUB"
check "client cannot reach the server before activation" not wg_ping

exp1=$(act_client activate alice@example.com laptop 30)
ok $? "activate alice/laptop for 30 s"
check "the peer is on the interface" wg_srv_has_peer "$WG_CLI_PUB"
check "allowed-ips are the device's" test "$(wg show "$WG_IF_SRV" allowed-ips | awk '{print $2}')" = "$WG_CLI_CIDR"
check "client reaches the server through the tunnel" wg_ping_wait 12

exp2=$(act_client activate ALICE@example.com - 3600)
ok $? "a new login (all devices, mixed-case user) extends the session"
check "expiry moved later ($exp1 -> $exp2)" test "${exp2:-0}" -gt "${exp1:-0}"
exp3=$(act_client activate alice@example.com laptop 2)
check "a shorter login never shortens ($exp3 = $exp2)" test "${exp3:-0}" = "${exp2:-1}"
check "list shows one session" test "$(act_client list | wc -l)" -eq 1

ended=$(act_client deactivate alice@example.com)
check "deactivate ends one session" test "$ended" = 1
check "the peer is gone at once" not wg_srv_has_peer "$WG_CLI_PUB"
check "client cannot reach the server after deactivation" not wg_ping
check "list is empty" test -z "$(act_client list)"
check "deactivating again is not an error" test "$(act_client deactivate alice@example.com)" = 0

exp=$(act_client activate alice@example.com laptop 3)
ok $? "activate for 3 s"
check "the peer is back" wg_srv_has_peer "$WG_CLI_PUB"
# Wait until 1 s past the expiry, then look (no timing assertion beyond
# the issue's "within 1 s").
while [ "$(date +%s)" -lt $((exp + 1)) ]; do sleep 0.1; done
check "the peer is removed within 1 s of its expiry" not wg_srv_has_peer "$WG_CLI_PUB"
check "client cannot reach the server after expiry" not wg_ping
check "the store holds no session" test -z "$(act_client list)"
check "the daemon still runs" kill -0 "$ACT_PID"

act_stop
ok $? "SIGTERM stops the daemon cleanly"
check "the socket is removed on exit" test ! -e "$ACT_SOCK"
out=$(act_client ping 2>&1)
check "client says the daemon is not running ($out)" eval 'case "$out" in ENOENT*"not running"*) true ;; *) false ;; esac'

done_testing
