#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Fault injection: wg-activator killed with SIGKILL at random moments
# across 1,000 activations of 2 to 5 s sessions and their expiries, on a
# real wireguard-go interface watched over UAPI (tests/helpers/
# activator_chaos.py). No acknowledged session may be lost (its peer stays
# until it expires, and it is in `list` after every restart), and no peer
# may outlive its expiry by more than 1 s of the daemon's up-time.
#
#   SEED=N              replay a run (the seed is printed)
#   FAULT_ACTIVATIONS=N activations (default 1000)
set -u
. "$top_srcdir/tests/integration/lib/wg.sh"
. "$top_srcdir/tests/integration/lib/activator.sh"
wg_require
. "$top_srcdir/tests/integration/lib/tap.sh"

SEED=${SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
N=${FAULT_ACTIVATIONS:-1000}
NKEYS=96
CHAOS_PID=""

cleanup() {
	[ -n "$CHAOS_PID" ] && kill "$CHAOS_PID" 2>/dev/null && wait "$CHAOS_PID" 2>/dev/null
	if [ -n "${ACT_DIR:-}" ] && [ -s "$ACT_DIR/daemon.pid" ]; then
		kill -9 "$(cat "$ACT_DIR/daemon.pid")" 2>/dev/null
	fi
	wg_cleanup
}
trap cleanup EXIT
wg_setup || { echo "Bail out! wg_setup failed"; exit 1; }
act_setup "$WG_TMP/act" "$WG_IF_SRV"

diag "seed $SEED (replay: SEED=$SEED), $N activations over $NKEYS devices"
users=""
: >"$ACT_DIR/keys"
for i in $(seq 1 "$NKEYS"); do
	read -r _ pub <<<"$(wg_keypair)"
	echo "u$i@example.com d$i $pub" >>"$ACT_DIR/keys"
	users="$users${users:+,}$(act_user "u$i@example.com" "d$i" "$pub" "10.231.1.$i/32")"
done
act_users "$users"

python3 "$top_srcdir/tests/helpers/activator_chaos.py" --bin "$ACT_BIN" --conf "$ACT_CONF" \
	--sock "$ACT_SOCK" --uapi "$WG_UAPI_DIR/$WG_IF_SRV.sock" --keys "$ACT_DIR/keys" \
	--log "$ACT_LOG" --pidfile "$ACT_DIR/daemon.pid" --seed "$SEED" --activations "$N" \
	>"$ACT_DIR/chaos.out" 2>"$ACT_DIR/chaos.err" &
CHAOS_PID=$!
wait "$CHAOS_PID"
rc=$?
CHAOS_PID=""
grep '^#' "$ACT_DIR/chaos.out"
sed 's/^/# stderr: /' "$ACT_DIR/chaos.err"
is "$rc" 0 "the fault injection ran to its end"
r() { sed -n "s/^$1 //p" "$ACT_DIR/chaos.out"; }

diag "$(r seconds) s: $(r acknowledged) activations acknowledged, $(r cut) cut by a kill, $(r refused) refused while down"
diag "$(r kills) kills ($(r kinds)), $(r starts) starts, $(r removals) peers removed, $(r samples) interface samples"
diag "worst lateness: $(r worst_ms) ms of up-time past expiry ($(r worst_what)); $(r overdue) sightings of a peer past its expiry"
is "$(r acknowledged)" "$N" "$N activations acknowledged"
check "wg-activator was killed at least 20 times ($(r kills))" test "$(r kills)" -ge 20
check "... and some requests were cut by a kill ($(r cut))" test "$(r cut)" -ge 1
is "$(r start_failures)" 0 "every restart came up"
is "$(r died)" 0 "it never exited by itself"
check "sessions expired meanwhile ($(r removals) peers removed)" test "$(r removals)" -ge 200
is "$(r lost)" 0 "no acknowledged session lost (peer on the interface until expiry, listed after every restart)"
is "$(r late)" 0 "no peer alive more than 1 s past its expiry while the daemon was up"
check "worst lateness $(r worst_ms) ms <= 1000 ms" test "$(r worst_ms)" -le 1000
is "$(r peers_left)" 0 "at the end every session's peer is gone"
is "$(r sessions_left)" 0 "... and every session"
is "$(r alive_at_end)" 1 "wg-activator is still running at the end"
if [ "$(r problems)" != 0 ]; then
	diag "log of wg-activator (last lines):"
	tail -n 20 "$ACT_LOG" | sed 's/^/#   /'
fi

done_testing
