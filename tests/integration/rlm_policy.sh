#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# rlm_wgotp and the session policy (issue 18) over real RADIUS: the
# Accept's Session-Timeout and WGOTP-Session-Expires are the deadline
# after every cap: a [Group] MaxDuration, a NotAfter a few minutes ahead;
# a right code after the group's NotAfter, or from a user whose group has
# no section, is rejected.
set -u
. "$top_srcdir/tests/integration/lib/radius.sh"
rad_require

RAD_ACTIVATE=no
soon=$(date -u -d '+10 min' +%H:%M)
past=$(date -u -d '-1 min' +%H:%M)
RAD_CONF_EXTRA="
[Session]
TimeZone = UTC

[Group contractors]
MaxDuration = 4h

[Group day]
NotAfter = $soon

[Group late]
NotAfter = $past"
rad_init
trap 'rad_cleanup' EXIT
. "$top_srcdir/tests/integration/lib/tap.sh"

S=JBSWY3DPEHPK3PXP
mkdir -p "$RAD_DIR/users.d"
for u in staff contractors day late nosuch; do
	g=", \"group\": \"$u\""
	[ "$u" = staff ] && g=
	printf '"%s@example.com": { "method": "totp", "totp_secret": "%s", "totp_state": "active", "enabled": true, "require_otp": true%s, "devices": [] }' \
		"$u" "$S" "$g" >"$RAD_DIR/users.d/$u@example.com"
done
rad_users_flush
rad_start || { echo "Bail out! freeradius did not start"; exit 1; }

c=$(rad_totp "$S")
rad_auth "User-Name = \"staff@example.com\", User-Password = \"$c\""
is "$RAD_CODE" Access-Accept "no group: accepted"
is "$(rad_reply Session-Timeout)" 28800 "  Session-Timeout is [Session] DefaultDuration (8h)"

rad_auth "User-Name = \"contractors@example.com\", User-Password = \"$c\""
is "$RAD_CODE" Access-Accept "group contractors: accepted"
is "$(rad_reply Session-Timeout)" 14400 "  Session-Timeout is the group's MaxDuration (4h)"

if [ "$(date -u +%H%M)" -ge 2345 ] || [ "$(date -u +%H%M)" -lt 0002 ]; then
	skip "too close to midnight UTC for the NotAfter checks"
	skip "too close to midnight UTC for the NotAfter checks"
	skip "too close to midnight UTC for the NotAfter checks"
else
	t0=$(date +%s)
	cut=$(date -u -d "$(date -u +%Y-%m-%d) $soon" +%s)
	rad_auth "User-Name = \"day@example.com\", User-Password = \"$c\""
	is "$RAD_CODE" Access-Accept "group day (NotAfter $soon): accepted"
	st=$(rad_reply Session-Timeout)
	check "  Session-Timeout ends at NotAfter ($st s, the cutoff is in $((cut - t0)) s)" \
		test "${st:-0}" -le $((cut - t0)) -a "${st:-0}" -ge $((cut - t0 - 3))
	rad_auth "User-Name = \"late@example.com\", User-Password = \"$c\""
	is "$RAD_CODE" Access-Reject "group late (NotAfter $past passed): a right code is rejected"
fi
check "  the reason is audited" grep -q "reason=after_cutoff" "$RAD_AUDIT"
rad_auth "User-Name = \"nosuch@example.com\", User-Password = \"$c\""
is "$RAD_CODE" Access-Reject "a group with no [Group] section: rejected"
done_testing
