#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# wg-activator: kill -9 with sessions live and expiring meanwhile, peers
# added or removed by hand, periodic reconcile, permanent devices, peers
# that are no enrolled device.
set -u
. "$top_srcdir/tests/integration/lib/wg.sh"
. "$top_srcdir/tests/integration/lib/activator.sh"
wg_require

. "$top_srcdir/tests/integration/lib/tap.sh"
# Poll a condition for up to $1 seconds (the daemon acts on its own time).
eventually() { local end=$(( $(date +%s) + $1 )); shift; while ! "$@"; do [ "$(date +%s)" -ge "$end" ] && return 1; sleep 0.1; done; }
wait_until() { while [ "$(date +%s)" -lt "$1" ]; do sleep 0.1; done; }

trap 'wg_cleanup' EXIT
wg_setup || { echo "Bail out! wg_setup failed"; exit 1; }
ACT_RECONCILE=2s
act_setup "$WG_TMP/act" "$WG_IF_SRV"
read -r _ BOB <<<"$(wg_keypair)"
read -r _ CAROL <<<"$(wg_keypair)"
read -r _ DAVE <<<"$(wg_keypair)"
read -r _ PERM <<<"$(wg_keypair)"
read -r _ STRANGER <<<"$(wg_keypair)"
act_users "$(act_user alice@example.com laptop "$WG_CLI_PUB" "$WG_CLI_CIDR"),
	$(act_user bob@example.com phone "$BOB" 10.231.0.3/32),
	$(act_user carol@example.com desk "$CAROL" 10.231.0.4/32),
	$(act_user dave@example.com pc "$DAVE" 10.231.0.5/32),
	$(act_user svc@example.com router "$PERM" 10.231.0.6/32 false)"
# a peer that is no enrolled device: must never be touched
wg set "$WG_IF_SRV" peer "$STRANGER" allowed-ips 10.231.0.99/32

act_start || { echo "Bail out! wg-activator did not start"; exit 1; }
check "a require_otp=false device is configured at start" wg_srv_has_peer "$PERM"
check "a foreign peer is left alone" wg_srv_has_peer "$STRANGER"

act_client activate alice@example.com laptop 30 >/dev/null; ok $? "activate alice 30 s"
bobexp=$(act_client activate bob@example.com phone 3); ok $? "activate bob 3 s"
act_client activate carol@example.com desk 3600 >/dev/null; ok $? "activate carol 1 h"
exp=$(act_client activate svc@example.com); ok $? "activating a permanent user succeeds"
check "... with no expiry (got $exp)" test "$exp" = 0

act_kill9
ok $? "kill -9 with three sessions live"
# While the daemon is down: bob's session expires, carol's peer is removed
# by hand, dave's (managed, no session) is added by hand.
wg set "$WG_IF_SRV" peer "$CAROL" remove
wg set "$WG_IF_SRV" peer "$DAVE" allowed-ips 10.231.0.5/32
wait_until $((bobexp + 1))
check "while down, bob's expired peer is still there" wg_srv_has_peer "$BOB"

act_start || { echo "Bail out! restart failed"; exit 1; }
check "after restart, bob's expired peer is gone" not wg_srv_has_peer "$BOB"
check "carol's live session got its peer back" wg_srv_has_peer "$CAROL"
check "dave's peer without a session was removed" not wg_srv_has_peer "$DAVE"
check "alice's live session kept its peer" wg_srv_has_peer "$WG_CLI_PUB"
check "the permanent device stays" wg_srv_has_peer "$PERM"
check "the foreign peer stays" wg_srv_has_peer "$STRANGER"
sessions=$(act_client list | awk '{print $1}' | sort | tr '\n' ' ')
check "sessions survived the crash: alice and carol ($sessions)" test "$sessions" = "alice@example.com carol@example.com "
check "the tunnel works for alice" wg_ping_wait 12

# Periodic reconcile (every 2 s here) repairs hand edits.
wg set "$WG_IF_SRV" peer "$CAROL" remove
wg set "$WG_IF_SRV" peer "$DAVE" allowed-ips 10.231.0.5/32
check "periodic reconcile re-adds a removed live peer" eventually 10 wg_srv_has_peer "$CAROL"
check "periodic reconcile removes a managed peer without a session" eventually 10 not wg_srv_has_peer "$DAVE"
check "... and leaves the foreign peer" wg_srv_has_peer "$STRANGER"

# SIGHUP reconciles at once.
wg set "$WG_IF_SRV" peer "$PERM" remove
kill -HUP "$ACT_PID"
check "SIGHUP reconcile restores the permanent device" eventually 5 wg_srv_has_peer "$PERM"

# A device removed from users.json: its session ends at the next reconcile.
act_users "$(act_user alice@example.com laptop "$WG_CLI_PUB" "$WG_CLI_CIDR"),
	$(act_user svc@example.com router "$PERM" 10.231.0.6/32 false)"
check "carol left the directory: her peer goes" eventually 10 not wg_srv_has_peer "$CAROL"
check "... and her session" eventually 5 test "$(act_client list | grep -c carol)" = 0

# kill -9 once more, with a session expiring while the daemon is down and
# another expiring right after the restart.
e1=$(act_client activate alice@example.com laptop 2)
act_kill9
wait_until $((e1 + 1))
act_start || { echo "Bail out! restart failed"; exit 1; }
check "a session that expired while down is gone on restart" not wg_srv_has_peer "$WG_CLI_PUB"
e2=$(act_client activate alice@example.com laptop 3)
act_kill9
act_start || { echo "Bail out! restart failed"; exit 1; }
check "restarted before expiry: the peer is there" wg_srv_has_peer "$WG_CLI_PUB"
wait_until $((e2 + 1))
check "and goes within 1 s of its expiry" not wg_srv_has_peer "$WG_CLI_PUB"

done_testing
