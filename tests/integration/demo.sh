#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The demo (tests/demo/demo.sh, what build-aux/run-demo shows) as an
# end-to-end test: run it non-interactively, then check its exit status,
# that every step passed, the key lines of the story, and that it left no
# namespace, process or interface socket behind.
# Needs root and network namespaces: SKIP otherwise (and when the demo
# itself says this machine cannot run it: exit status 77).
set -u
: "${top_srcdir:?}" "${top_builddir:?}"

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root (network namespaces)"
	exit 0
fi
probe="wgotp-probe-$$"
if ! ip netns add "$probe" 2>/dev/null; then
	echo "1..0 # SKIP cannot create network namespaces here"
	exit 0
fi
ip netns del "$probe"

LOG=$(mktemp "${TMPDIR:-/tmp}/wgotp-demo-test.XXXXXX")
trap 'rm -f "$LOG"' EXIT
bash "$top_srcdir/tests/demo/demo.sh" "$top_builddir" </dev/null >"$LOG" 2>&1
rc=$?
if [ "$rc" -eq 77 ]; then
	echo "1..0 # SKIP $(sed -n 's/^demo: cannot run here: //p' "$LOG" | head -n 1)"
	exit 0
fi

. "$top_srcdir/tests/integration/lib/tap.sh"
has() { grep -qF -- "$1" "$LOG"; }
# line DESCRIPTION TEXT: the demo printed "[ok] TEXT"
line() { has "[ok] $2"; ok $? "$1"; }

ok "$rc" "the demo exits 0 (got $rc)"
has "demo: PASS"
ok $? "it ends with demo: PASS"
steps=$(grep -c -- '-> step [0-9]* ok' "$LOG")
ok $(( steps >= 10 ? 0 : 1 )) "every step passed ($steps ok)"
if grep -q -- '-> step [0-9]* skipped' "$LOG"; then
	echo "# $(grep -- '-> step [0-9]* skipped' "$LOG")"
fi
if grep -q '\[FAILED\]' "$LOG"; then r=1; else r=0; fi
ok $r "no check failed"
line "blocked before any login" "alice's laptop -> 10.231.0.1: no answer"
has "otpauth://totp/wgotp:alice%40example.com?secret="
ok $? "the enrolment shows the otpauth:// URI"
grep -q '▀\|▄\|█' "$LOG"
ok $? "... and the QR code"
line "TOTP over RADIUS: Access-Accept" "Access-Request -> Access-Accept"
line "a replayed TOTP code is rejected" "the same code again: Access-Reject (a replay)"
line "the tunnel passes traffic after the login" "alice's laptop -> 10.231.0.1 through the tunnel"
has "Subject: Your VPN code"
ok $? "the inbox shows the delivered mail"
line "email user: challenge" "Access-Request (empty password) -> Access-Challenge"
line "email user: the mailed code is accepted" "Access-Request with State and the code -> Access-Accept"
line "bob's tunnel passes traffic" "bob's laptop -> 10.231.0.1 through the tunnel"
line "the sessions expire: alice's peer removed" "alice's peer removed by wg-activator"
line "... bob's too" "bob's peer removed by wg-activator"
if has "-> step 9 skipped"; then
	skip "SSH step: $(grep -- '-> step 9 skipped' "$LOG")"
else
	line "SSH jump host: the login activates the device" "while it is open, the desktop's peer is on"
fi
# the portal's step by its words, not its number (steps come and go)
portal_skip=$(grep -E -- '-> step [0-9]+ skipped: .*(wgotp-portal|chromium|selenium)' "$LOG")
if [ -n "$portal_skip" ]; then
	skip "portal step: $portal_skip"
else
	grep -qE '\[ok\] the status page: Active, .* -> .*/tests/artifacts/demo/3-status\.png' "$LOG"
	ok $? "the portal in a real browser: email, mailed code, the status page (screenshot path printed)"
	line "... and bob is on the VPN" "bob's laptop -> 10.231.0.1 through the tunnel"
	test -s "$top_builddir/tests/artifacts/demo/3-status.png"
	ok $? "the screenshots are where the demo says"
fi
line "no code in the audit log" "no code in the audit log"

# Nothing left behind: the demo's namespaces and interface sockets carry
# the id of its run (wgotp-s-ID).
id=$(sed -n 's/^   server   wgotp-s-\([0-9a-f]*\):.*/\1/p' "$LOG" | head -n 1)
if [ -n "$id" ]; then
	if ip netns list | grep -q -- "-$id"; then r=1; else r=0; fi
	ok $r "no namespace of the demo is left"
	if compgen -G "/var/run/wireguard/*$id*" >/dev/null; then r=1; else r=0; fi
	ok $r "no UAPI socket of the demo is left"
	if pgrep -f "wireguard-go wg[scb]$id" >/dev/null; then r=1; else r=0; fi
	ok $r "no wireguard-go of the demo is running"
else
	ok 1 "the demo printed its namespaces"
fi

if [ "$TAP_FAILED" -ne 0 ]; then
	echo "# the demo's output:"
	sed 's/^/# /' "$LOG"
fi
done_testing
