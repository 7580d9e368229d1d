#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# wgotpctl and the session policy (issue 18): user set --group refuses a
# group wgotp.conf does not define, stores one it does; activate with a
# TOTP code gets the group's capped deadline from wg-activator (and
# wgotpctl sessions shows it); a user after NotAfter is refused with the
# reason; activate --shorten sets an earlier deadline, audited.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
. "$top_srcdir/tests/integration/lib/wg.sh"
. "$top_srcdir/tests/integration/lib/activator.sh"
wg_require
command -v oathtool >/dev/null 2>&1 || { echo "1..0 # SKIP oathtool not installed"; exit 0; }
. "$top_srcdir/tests/integration/lib/tap.sh"

CTL="$top_builddir/wgotpctl/wgotpctl"
trap 'wg_cleanup' EXIT
wg_setup || { echo "Bail out! wg_setup failed"; exit 1; }
act_setup "$WG_TMP/act" "$WG_IF_SRV"
(umask 077; openssl rand -hex 32 >"$ACT_DIR/server.key")	# the flow wants hex
SECRET=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP
# NotAfter for group "late": a minute ago in UTC (or, near midnight, skip)
late=$(date -u -d '-1 min' +%H:%M)
sed -i "s/^Durations = .*/Durations = 10s, 30s, 1h\nTimeZone = UTC/" "$ACT_CONF"
cat >>"$ACT_CONF" <<CONF

[Group contractors]
MaxDuration = 30s
Durations = 10s, 20s, 30s

[Group late]
NotAfter = $late
CONF
act_users "$(printf '"alice@example.com": { "method": "totp", "totp_secret": "%s", "totp_state": "active", "enabled": true, "require_otp": true, "devices": [ { "name": "laptop", "public_key": "%s", "allowed_ips": ["%s"] } ] }' "$SECRET" "$WG_CLI_PUB" "$WG_CLI_CIDR")"
act_start || { echo "Bail out! wg-activator did not start"; exit 1; }

run() { OUT=$("$CTL" -c "$ACT_CONF" "$@" 2>"$WG_TMP/err"); RC=$?; ERR=$(cat "$WG_TMP/err"); }
# a fresh TOTP code each time: wait for the next 30 s step
# (not in a subshell: LAST_STEP must stay)
next_code() {
	while [ $(( $(date +%s) / 30 )) -eq "${LAST_STEP:-0}" ] || [ $(( $(date +%s) % 30 )) -ge 28 ]; do
		sleep 0.5
	done
	LAST_STEP=$(( $(date +%s) / 30 ))
	CODE=$(oathtool --totp -b "$SECRET")
}

run user set alice@example.com --group nosuch
check "user set --group refuses a group with no section ($ERR)" eval '[ "$RC" -ne 0 ] && case "$ERR" in *"no [Group nosuch] section"*) true ;; *) false ;; esac'
check "  users.json is unchanged" not grep -q '"group"' "$ACT_USERS"
run user set alice@example.com --group contractors
check "user set --group contractors ($OUT)" test "$RC" -eq 0
check "  users.json has the group" grep -q '"group": *"contractors"' "$ACT_USERS"
run user show alice@example.com
check "  user show says it" eval 'case "$OUT" in *"group:       contractors"*) true ;; *) false ;; esac'
run activate alice@example.com --code 000000 --duration 20s
check "--duration 20s, one of the group's Durations, passes the check ($ERR)" \
	eval 'case "$ERR" in *"allowed durations"*) false ;; *) true ;; esac'
run activate alice@example.com --code 000000 --duration 1h
check "--duration 1h, not one of the group's, is refused ($ERR)" \
	eval 'case "$ERR" in *"not one of the allowed durations (10s, 20s, 30s)"*) true ;; *) false ;; esac'

next_code
t0=$(date +%s)
run activate alice@example.com --code "$CODE"
check "activate with the default length (1h): accepted ($OUT$ERR)" test "$RC" -eq 0
exp=$(act_client list | awk '{print $5}')
check "  the contractors' MaxDuration caps it at 30 s ($((exp - t0)) s)" test "$((exp - t0))" -ge 29 -a "$((exp - t0))" -le 32
run sessions --json
got=$(printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print([s["expires"] for s in d["devices"] if s.get("expires")][0])' 2>/dev/null)
check "  wgotpctl sessions shows the real deadline ($got)" test -n "$got" -a "$got" = "$exp"

run user set alice@example.com --group ""
check "user set --group \"\" removes the group" not grep -q '"group"' "$ACT_USERS"
next_code
run activate alice@example.com --code "$CODE" --duration 1h
exp=$(act_client list | awk '{print $5}')
check "without the group, 1h ($OUT)" test "$RC" -eq 0 -a "$((exp - $(date +%s)))" -gt 3000
next_code
run activate alice@example.com --code "$CODE" --duration 10s --shorten
check "activate --duration 10s --shorten ($OUT$ERR)" test "$RC" -eq 0
exp2=$(act_client list | awk '{print $5}')
check "  the deadline is earlier ($exp -> $exp2)" test "${exp2:-0}" -lt "$exp"
check "  audited as event=extend reason=shortened" grep -q 'event=extend origin=admin .*reason=shortened' "$ACT_LOG"
run activate alice@example.com --shorten
check "--shorten without --duration is a usage error" test "$RC" -ne 0

if [ "$(date -u +%H%M)" -lt 0002 ]; then
	skip "too close to midnight UTC for the NotAfter check"
else
	run user set alice@example.com --group late
	next_code
	run activate alice@example.com --code "$CODE"
	check "after the group's NotAfter the right code is refused ($ERR)" eval '[ "$RC" -ne 0 ] && case "$ERR" in *NotAfter*) true ;; *) false ;; esac'
fi

act_stop
done_testing
