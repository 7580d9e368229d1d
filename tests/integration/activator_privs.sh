#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# wg-activator keeps only CAP_NET_ADMIN once started (wg-activator/privs.c):
# started as root, every thread's effective, permitted, inheritable and
# bounding sets are exactly CAP_NET_ADMIN (bit 12) and no_new_privs is set;
# activation and expiry still work through the UAPI socket (root-owned:
# uid 0 owns it without CAP_DAC_OVERRIDE) and through wg(8), which gets
# CAP_NET_ADMIN on exec (seen by a WgCommand wrapper). Then as systemd's
# unit starts it (root without CAP_SETPCAP: nothing left to drop) and as
# a non-root user with an ambient CAP_NET_ADMIN (cannot drop the bounding
# set: must not fail; the wg child still gets CAP_NET_ADMIN). wireguard-go's
# socket stays root's (it closes it when its owner changes), so the
# non-root runs check the start and the capabilities, not activation.
set -u
. "$top_srcdir/tests/integration/lib/wg.sh"
. "$top_srcdir/tests/integration/lib/activator.sh"
wg_require
command -v setpriv >/dev/null 2>&1 || { echo "1..0 # SKIP setpriv not installed (util-linux)"; exit 0; }

. "$top_srcdir/tests/integration/lib/tap.sh"

trap 'wg_cleanup' EXIT
wg_setup || { echo "Bail out! wg_setup failed"; exit 1; }
NET_ADMIN=0000000000001000
REAL_ACT_BIN=$ACT_BIN
WG_REAL=$(command -v wg)

# WgCommand: records its own capabilities (in a directory any uid may
# write), then runs the real wg.
CAPS_DIR="$WG_TMP/wg-caps"
mkdir -m 1777 "$CAPS_DIR"
cat >"$WG_TMP/wg-wrapper" <<EOF
#!/bin/sh
grep -E '^(CapEff|CapPrm):' /proc/\$\$/status >"$CAPS_DIR/\$\$" 2>/dev/null
exec $WG_REAL "\$@"
EOF
chmod 755 "$WG_TMP/wg-wrapper"

# cap_field PID FIELD: the field of every thread, sorted and unique.
cap_field() {
	local t
	for t in /proc/"$1"/task/*; do
		sed -n "s/^$2:[[:space:]]*//p" "$t/status"
	done | sort -u
}

# One run: LABEL, WANT_BOUNDING (hex, or "any"), WANT_INH, ACTIVATE (yes or
# no), then the daemon's prefix (setpriv ...) if any. Expects ACT_DIR set
# up for the backend.
run_case() {
	local label=$1 want_bnd=$2 want_inh=$3 activate=$4 exp f
	shift 4
	if [ $# -gt 0 ]; then
		printf '#!/bin/sh\nexec %s %s "$@"\n' "$*" "$REAL_ACT_BIN" >"$WG_TMP/act-wrapper"
		chmod 755 "$WG_TMP/act-wrapper"
		ACT_BIN="$WG_TMP/act-wrapper"
	else
		ACT_BIN=$REAL_ACT_BIN
	fi
	rm -f "$CAPS_DIR"/*
	if ! act_start; then
		ok 1 "$label: wg-activator starts"
		return
	fi
	ok 0 "$label: wg-activator starts"
	is "$(cap_field "$ACT_PID" CapEff)" $NET_ADMIN "$label: CapEff is CAP_NET_ADMIN only"
	is "$(cap_field "$ACT_PID" CapPrm)" $NET_ADMIN "$label: CapPrm is CAP_NET_ADMIN only"
	is "$(cap_field "$ACT_PID" CapInh)" "$want_inh" "$label: CapInh"
	if [ "$want_bnd" != any ]; then
		is "$(cap_field "$ACT_PID" CapBnd)" "$want_bnd" "$label: CapBnd"
	fi
	is "$(cap_field "$ACT_PID" NoNewPrivs)" 1 "$label: NoNewPrivs"
	check "$label: one log line says what it kept" \
		test "$(grep -c 'privileges: uid [0-9]* keeps only CAP_NET_ADMIN' "$ACT_LOG")" -eq 1
	if [ "$activate" = yes ]; then
		exp=$(act_client activate alice@example.com laptop 3)
		ok $? "$label: activate for 3 s"
		check "$label: the peer is on the interface" wg_srv_has_peer "$WG_CLI_PUB"
		while [ "$(date +%s)" -lt $((${exp:-0} + 1)) ]; do sleep 0.1; done
		check "$label: the peer is removed at expiry" not wg_srv_has_peer "$WG_CLI_PUB"
		check "$label: the store holds no session" test -z "$(act_client list)"
	fi
	if grep -q '^Backend = wg' "$ACT_CONF"; then
		f=$(find "$CAPS_DIR" -type f | head -n1)
		check "$label: wg ran through the wrapper" test -n "$f"
		is "$(sed -n 's/^CapEff:[[:space:]]*//p' "${f:-/dev/null}")" $NET_ADMIN \
			"$label: wg ran with CapEff = CAP_NET_ADMIN"
	fi
	act_stop
	ok $? "$label: SIGTERM stops it cleanly"
}

setup_case() {
	ACT_BACKEND=$2 act_setup "$WG_TMP/$1" "$WG_IF_SRV"
	act_users "$(act_user alice@example.com laptop "$WG_CLI_PUB" "$WG_CLI_CIDR")"
	printf 'WgCommand = %s\n' "$WG_TMP/wg-wrapper" >>"$ACT_CONF"
}

# Root with every capability: drops to CAP_NET_ADMIN everywhere.
setup_case root-uapi uapi
run_case "root, uapi" $NET_ADMIN $NET_ADMIN yes
setup_case root-wg wg
run_case "root, wg" $NET_ADMIN $NET_ADMIN yes

# Root as the systemd unit starts it (CapabilityBoundingSet=CAP_NET_ADMIN):
# no CAP_SETPCAP, nothing left to drop.
setup_case unit uapi
run_case "root without CAP_SETPCAP" $NET_ADMIN $NET_ADMIN yes \
	setpriv --bounding-set=-all,+net_admin --inh-caps=-all,+net_admin

# Not root, an ambient CAP_NET_ADMIN (AmbientCapabilities= with User=):
# the bounding set cannot be dropped and must not make it fail. Its files
# are given to that user.
chmod 711 "$WG_TMP"
setup_case nobody wg
chown -R 65534:65534 "$ACT_DIR"
run_case "uid 65534 with ambient CAP_NET_ADMIN, wg" any $NET_ADMIN no \
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=+net_admin --ambient-caps=+net_admin
check "uid 65534: the log says the bounding set was left" \
	grep -q 'bounding set left as given (no CAP_SETPCAP)' "$ACT_LOG"
sed -i 's/^Backend = wg/Backend = uapi/' "$ACT_CONF"
: >"$ACT_LOG"
run_case "uid 65534 with ambient CAP_NET_ADMIN, uapi" any $NET_ADMIN no \
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=+net_admin --ambient-caps=+net_admin

# Not root, no capability at all: starts (a userspace WireGuard of its own
# needs none).
: >"$ACT_LOG"
ACT_BIN="$WG_TMP/act-wrapper"
printf '#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all %s "$@"\n' \
	"$REAL_ACT_BIN" >"$ACT_BIN"
if act_start; then
	ok 0 "uid 65534 without capabilities: starts"
	is "$(cap_field "$ACT_PID" CapEff)" 0000000000000000 "uid 65534 without capabilities: CapEff empty"
	check "... and says so" grep -q 'privileges: uid 65534 holds no capability' "$ACT_LOG"
	act_stop
else
	ok 1 "uid 65534 without capabilities: starts"
fi

done_testing
