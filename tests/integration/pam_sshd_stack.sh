#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# pam_wgotp after pam_unix in a real sshd (keyboard-interactive), the
# stack of contrib/pam.d/sshd: `auth required pam_unix.so` then
# `auth required pam_wgotp.so activate`. PAM runs pam_wgotp even when
# the password was wrong; a right code must then activate nothing (the
# login fails, no session opens, deactivate_on_close never runs). With
# the right password and code the peer is added when the session opens,
# the grant id never reaches the user's environment, and the peer leaves
# with the session.
set -u
. "$top_srcdir/tests/integration/lib/wg.sh"
. "$top_srcdir/tests/integration/lib/activator.sh"
. "$top_srcdir/tests/integration/lib/sshd.sh"
wg_require
sshd_require
if [ ! -x "$ACT_BIN" ] || [ ! -x "$ACT_CLIENT" ]; then
	echo "1..0 # SKIP wg-activator or tests/helpers/act_client not built"
	exit 0
fi
if ! command -v chpasswd >/dev/null 2>&1; then
	echo "1..0 # SKIP chpasswd not installed (Debian: passwd)"
	exit 0
fi

trap 'sshd_cleanup; wg_cleanup' EXIT
trap 'exit 1' INT TERM
wg_setup || { echo "Bail out! wg_setup failed"; exit 1; }
act_setup "$WG_TMP/act" "$WG_IF_SRV"
(umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$WG_TMP/act/server.key")
SSHD_USERS=$ACT_USERS
SSHD_AUTH_BEFORE="auth     required  pam_unix.so nodelay"
sshd_setup "$WG_TMP/sshd" "$ACT_CONF" "activate duration=1h deactivate_on_close" ||
	{ echo "Bail out! sshd_setup failed"; exit 1; }
S1=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ
sshd_user_totp "$SSHD_EMAIL" "$S1" "$WG_CLI_PUB" "$WG_CLI_CIDR"
PASS="pw-$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')"
sshd_password "$PASS" || { echo "Bail out! chpasswd failed"; exit 1; }
act_start || { echo "Bail out! wg-activator did not start"; exit 1; }
sshd_start || { echo "Bail out! sshd did not start"; exit 1; }

# grants recorded and not yet redeemed, straight from the store
grants() {
	python3 - "$WG_TMP/act/state.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("SELECT count(*) FROM kv WHERE key LIKE 'pam-grant:%'").fetchone()[0])
PY
}

plan 15

wg_srv_has_peer "$WG_CLI_PUB"
ok $((! $?)) "no peer before the SSH login"

# A wrong password, then the right code.
ssh_password "wrong-$PASS"
ssh_run "$(oathtool --totp -b "$S1")"
ok $((SSH_RC == 0)) "a wrong password with the right code does not log in"
printf '%s\n' "$SSH_PROMPTS" | grep -q 'Password:' &&
	printf '%s\n' "$SSH_PROMPTS" | grep -q 'Verification code:'
ok $? "... although the client was asked for the password and then for the code"
is "$(grants)" 1 "... pam_wgotp accepted the code: one grant recorded, not redeemed"
sleep 1	# an activation would be under way by now
wg_srv_has_peer "$WG_CLI_PUB"
ok $((! $?)) "... and no peer is on the interface"
is "$(act_client list | wc -l)" 0 "... and wg-activator has no session"
grep -q "event=activate" "$ACT_LOG"
ok $((! $?)) "... and was never asked to activate (no activate in its audit log)"

# The right password and the right code (the next step: the first is spent).
ssh_password "$PASS"
ssh_bg "$(oathtool --totp -b -N 'now + 30 seconds' "$S1")" \
	'echo in; env | grep -c "^WGOTP_GRANT=" || true; read x; echo out'
wait_for 20 grep -q '^in$' "$SSHD_DIR/bg.out"
ok $? "the right password and code log in"
wg_srv_has_peer "$WG_CLI_PUB"
ok $? "the user's peer is on the interface while the session is open"
is "$(act_client list | wc -l)" 1 "wg-activator has one session"
grep -q "event=activate origin=pam user=\"$SSHD_EMAIL\" .*result=accept" "$ACT_LOG"
ok $? "... activated over PAM (its audit log says so)"
wait_for 5 grep -q '^[0-9]' "$SSHD_DIR/bg.out"
is "$(sed -n 2p "$SSHD_DIR/bg.out")" 0 "WGOTP_GRANT is not in the user's environment"
is "$(grants)" 1 "the session's grant was redeemed (only the failed login's is left, to expire)"

ssh_bg_end
is "$SSH_RC" 0 "the SSH session ends normally"
wait_for 10 eval '! wg_srv_has_peer "$WG_CLI_PUB"'
ok $? "deactivate_on_close: the peer leaves when the session ends"
[ "$TAP_FAILED" -eq 0 ]
